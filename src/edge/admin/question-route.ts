import type { ServerResponse } from "node:http";
import type { AdminRoute } from "./admin-server.ts";
import {
  type AnswerQuestion,
  answerExplainQuestions,
  EXPLAIN_PATHS,
  type ExplainQuestionsOptions,
} from "./explain-questions.ts";
import { BodyTooLarge, readBody } from "./read-body.ts";

/**
 * POST /explain and GET /usage on the admin port (docs/explain-and-usage.md): the HTTP side of
 * explain-questions.ts. They reveal who uses what, so they belong behind the operator's own auth,
 * like the rest of the admin port.
 */

/** Larger than any sane explain request (the gRPC edge's own bound is 64 KiB), small enough to hold. */
export const MAX_EXPLAIN_BODY_BYTES = 64 * 1024;

/** Answered in this process, which holds the store. */
export function explainRoutes(options: ExplainQuestionsOptions): AdminRoute {
  return questionRoute(answerExplainQuestions(options));
}

/**
 * Takes /explain and /usage, reads a POST's body (bounded), and replies with whatever `answer`
 * says: this process's own answer, or a worker's relayed by the primary (cluster-questions.ts).
 */
export function questionRoute(answer: AnswerQuestion): AdminRoute {
  return async (request, response) => {
    const url = request.url ?? "/";
    if (!EXPLAIN_PATHS.has(new URL(url, "http://admin").pathname)) return false;
    const method = request.method ?? "GET";
    let body = "";
    try {
      if (method === "POST") body = await readBody(request, MAX_EXPLAIN_BODY_BYTES);
    } catch (error: unknown) {
      if (error instanceof BodyTooLarge) return reply(response, 413, { error: error.message });
      // The client went away mid-body: answered, not thrown, since nothing above the route catches.
      return reply(response, 400, { error: "could not read the request body" });
    }
    const answered = await answer({ method, url, body });
    return reply(response, answered.status, answered.body);
  };
}

function reply(response: ServerResponse, status: number, body: unknown): true {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    // Usage figures change with every call; no cache along the way may keep them.
    "cache-control": "no-store",
  });
  response.end(text);
  return true;
}
