import type { Explainer } from "../../limiter/explain-call.ts";
import type { PolicyTable } from "../../policy/policy-types.ts";
import {
  type AdminAnswer,
  type AnswerQuestion,
  httpErrorStatus,
  questionPath,
  STORE_BUDGET_MS,
  unreadBodyError,
} from "./admin-question.ts";
import { explainJson, usageJson } from "./explain-json.ts";
import { parseExplainRequest, usageCall } from "./explain-request.ts";

/**
 * The answers of POST /explain and GET /usage (docs/explain-and-usage.md), apart from HTTP
 * (admin-question.ts). Both are read-only: they peek at the counters a call names and count
 * nothing. They reveal who uses what, so they belong behind the operator's own auth, like the rest
 * of the admin port.
 */

/** The paths answered here. */
export const EXPLAIN_PATHS: ReadonlySet<string> = new Set(["/explain", "/usage"]);

export interface ExplainQuestionsOptions {
  readonly explainer: Explainer;
  readonly policy: () => PolicyTable;
}

export function answerExplainQuestions({ explainer, policy }: ExplainQuestionsOptions): AnswerQuestion {
  return async ({ method, url: target, body, unreadBody }) => {
    const path = questionPath(target);
    if (path === "/explain") {
      if (method !== "POST") return explainError(405, "POST a ShouldRateLimit request");
      if (unreadBody !== undefined) {
        const { status, message } = unreadBodyError(unreadBody);
        return explainError(status, message);
      }
      return answer(async () => {
        const call = parseExplainRequest(body);
        return explainJson(await explainer.explain(call, { deadlineMs: Date.now() + STORE_BUDGET_MS }));
      });
    }
    if (path === "/usage") {
      if (method !== "GET") return explainError(405, "GET /usage?domain=…&key=value…");
      return answer(async () => {
        const table = policy();
        const call = usageCall(new URL(target, "http://admin").searchParams, table);
        const base = table.explain?.(call.domain, call.descriptors[0]?.entries ?? []);
        if (!table.hasDomain(call.domain)) throw new NotFound(`unknown domain "${call.domain}"`);
        if (base?.unmatched !== undefined) throw new NotFound("no rule matches this descriptor");
        return usageJson(await explainer.explain(call, { deadlineMs: Date.now() + STORE_BUDGET_MS }));
      });
    }
    return explainError(404, `no question at ${path}`);
  };
}

/** An answer of these endpoints: JSON, never cached (usage figures change with every call). */
export function explainAnswer(status: number, body: unknown): AdminAnswer {
  return {
    status,
    contentType: "application/json; charset=utf-8",
    headers: { "cache-control": "no-store" },
    body: `${JSON.stringify(body, null, 2)}\n`,
  };
}

/** A refusal as these endpoints word it: `{"error": "…"}`. */
export function explainError(status: number, message: string): AdminAnswer {
  return explainAnswer(status, { error: message });
}

class NotFound extends Error {}

/** Runs a question; maps its errors to statuses: 400 bad input, 404 nothing to show, 503 store down. */
async function answer(ask: () => Promise<unknown>): Promise<AdminAnswer> {
  try {
    return explainAnswer(200, await ask());
  } catch (error: unknown) {
    if (error instanceof NotFound) return explainError(404, error.message);
    const { status, message } = httpErrorStatus(error);
    return explainError(status, message);
  }
}
