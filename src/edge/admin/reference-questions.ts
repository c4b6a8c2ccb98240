import { STATUS_CODES } from "node:http";
import type { RateLimiter } from "../../limiter/rate-limiter.ts";
import type { Metrics } from "../../metrics/metrics.ts";
import type { PolicyTable } from "../../policy/policy-types.ts";
import {
  type AdminAnswer,
  type AdminQuestion,
  type AnswerQuestion,
  httpErrorStatus,
  questionPath,
  STORE_BUDGET_MS,
  unreadBodyError,
} from "./admin-question.ts";
import { parseExplainRequest } from "./explain-request.ts";
import { rateLimitResponseJson } from "./rate-limit-response-json.ts";

/**
 * envoyproxy/ratelimit's HTTP surface, for clients that cannot speak gRPC (curl, Lua), apart from
 * HTTP (admin-question.ts):
 * - POST /json takes a ShouldRateLimit request in protobuf's JSON form and decides it for real
 *   (hits are counted) through the same limiter as gRPC, answering the RateLimitResponse as
 *   protojson with the reference's statuses: 200 OK, 429 OVER_LIMIT, 400 for a request it cannot
 *   read or the limiter refuses. Sluice answers 503 where the counter store cannot be asked (the
 *   reference answers 400 for any service error), 413 for a body over 64 KiB (the reference reads
 *   any), and takes POST only (the reference takes any method, and a GET without a body is a 400
 *   there).
 * - GET /rlconfig prints the live policy as the reference's debug port does (dump-policy.ts).
 */

/** The paths answered here. */
export const REFERENCE_PATHS: ReadonlySet<string> = new Set(["/json", "/rlconfig"]);

export interface ReferenceQuestionsOptions {
  /** The limiter gRPC calls go through (concurrency limits included). */
  readonly limiter: RateLimiter;
  readonly policy: () => PolicyTable;
  /** This process's metrics: under `--workers N`, those of the worker that decides. */
  readonly metrics: Pick<Metrics, "recordDecision" | "recordError">;
}

export function answerReferenceQuestions(options: ReferenceQuestionsOptions): AnswerQuestion {
  return async (question) => {
    const path = questionPath(question.url);
    if (path === "/json") {
      if (question.method !== "POST")
        return referenceText(405, "POST a ShouldRateLimit request as JSON\n", { allow: "POST" });
      return decide(question, options);
    }
    if (path === "/rlconfig") {
      if (question.method !== "GET" && question.method !== "HEAD")
        return referenceText(405, "GET /rlconfig\n", { allow: "GET" });
      return referenceText(200, options.policy().dump?.() ?? "");
    }
    return referenceError(404, `nothing at ${path}`);
  };
}

async function decide(
  { body, unreadBody }: AdminQuestion,
  { limiter, policy, metrics }: ReferenceQuestionsOptions,
): Promise<AdminAnswer> {
  if (unreadBody !== undefined) {
    const { status, message } = unreadBodyError(unreadBody);
    metrics.recordError("invalid_argument");
    return referenceError(status, message);
  }
  try {
    const call = parseExplainRequest(body);
    // The store is not waited on past the budget, so a worker answers before the primary relaying
    // this question gives up on it (cluster-questions.ts).
    const decision = await limiter.shouldRateLimit(call, { deadlineMs: Date.now() + STORE_BUDGET_MS });
    metrics.recordDecision(call.domain, policy().hasDomain(call.domain), decision);
    return {
      status: decision.code === "OK" ? 200 : 429,
      contentType: "application/json",
      headers: { "cache-control": "no-store" },
      body: JSON.stringify(rateLimitResponseJson(decision)),
    };
  } catch (error: unknown) {
    const { status, kind, message } = httpErrorStatus(error);
    metrics.recordError(kind);
    return referenceError(status, message);
  }
}

/** A refusal as these endpoints word it: `Bad Request: <what is wrong>`, in plain text. */
export function referenceError(status: number, message: string): AdminAnswer {
  return referenceText(status, `${STATUS_CODES[status]}: ${message}\n`);
}

function referenceText(status: number, body: string, headers?: Record<string, string>): AdminAnswer {
  return { status, contentType: "text/plain; charset=utf-8", ...(headers && { headers }), body };
}
