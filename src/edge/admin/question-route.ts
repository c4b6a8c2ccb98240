import type { IncomingMessage } from "node:http";
import type { AdminQuestion, AnswerQuestion } from "./admin-question.ts";
import { MAX_QUESTION_BODY_BYTES, questionPath } from "./admin-question.ts";
import type { AdminRoute } from "./admin-server.ts";
import { QUESTION_PATHS } from "./answer-admin-questions.ts";
import { BodyTooLarge, readBody } from "./read-body.ts";

/**
 * The HTTP side of the admin questions (/explain, /usage, /json, /rlconfig; admin-question.ts):
 * takes their paths, reads a POST's body (bounded), and replies with whatever `answer` says: this
 * process's own answer (answer-admin-questions.ts), or under `--workers N` a worker's, relayed by
 * the primary (src/cli/cluster-questions.ts). Either way the reply is written here, the same way.
 */
export function questionRoute(answer: AnswerQuestion): AdminRoute {
  return async (request, response) => {
    const url = request.url ?? "/";
    if (!QUESTION_PATHS.has(questionPath(url))) return false;
    const method = request.method ?? "GET";
    const answered = await answer({
      method,
      url,
      ...(method === "POST" ? await readQuestionBody(request) : { body: "" }),
    });
    response.writeHead(answered.status, {
      ...answered.headers,
      "content-type": answered.contentType,
      "content-length": Buffer.byteLength(answered.body),
    });
    response.end(answered.body);
    return true;
  };
}

/**
 * The body, or why it was not read: the endpoint answers that in its own words (and, under
 * `--workers N`, the primary sends the worker the reason, never more than the bound).
 */
async function readQuestionBody(
  request: IncomingMessage,
): Promise<Pick<AdminQuestion, "body" | "unreadBody">> {
  try {
    return { body: await readBody(request, MAX_QUESTION_BODY_BYTES) };
  } catch (error: unknown) {
    // Too large, or the client went away mid-body: answered, not thrown, since nothing above the
    // route catches.
    return { body: "", unreadBody: error instanceof BodyTooLarge ? "too large" : "broken" };
  }
}
