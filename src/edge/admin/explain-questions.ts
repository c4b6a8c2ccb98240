import type { Explainer } from "../../limiter/explain-call.ts";
import { InvalidRequestError } from "../../limiter/limiter-types.ts";
import type { PolicyTable } from "../../policy/policy-types.ts";
import { StoreError } from "../../store/counter-store.ts";
import { explainJson, usageJson } from "./explain-json.ts";
import { parseExplainRequest, usageCall } from "./explain-request.ts";

/**
 * The answers of POST /explain and GET /usage (docs/explain-and-usage.md), apart from HTTP: a
 * question is plain data, so the same answer serves the admin port (explain-routes.ts) and, under
 * `--workers N`, a question the primary forwards to a worker over the cluster channel (the primary
 * holds no store). Both are read-only: they peek at the counters a call names and count nothing.
 */

/** A request to /explain or /usage as the admin port read it. */
export interface ExplainQuestion {
  readonly method: string;
  /** Path and query, as in the request line. */
  readonly url: string;
  /** The body as text; empty for a GET. */
  readonly body: string;
}

/** The status and the JSON body to reply with. */
export interface ExplainAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Answers a question; never rejects (every failure is an answer with its status). */
export type AnswerQuestion = (question: ExplainQuestion) => Promise<ExplainAnswer>;

/** The paths these questions are asked on. */
export const EXPLAIN_PATHS: ReadonlySet<string> = new Set(["/explain", "/usage"]);

/** How long a question may wait on the store, in ms; the guard's own timeout may be shorter. */
export const STORE_BUDGET_MS = 5_000;

export interface ExplainQuestionsOptions {
  readonly explainer: Explainer;
  readonly policy: () => PolicyTable;
}

export function answerExplainQuestions({ explainer, policy }: ExplainQuestionsOptions): AnswerQuestion {
  return async ({ method, url: target, body }) => {
    const url = new URL(target, "http://admin");
    if (url.pathname === "/explain") {
      if (method !== "POST") return { status: 405, body: { error: "POST a ShouldRateLimit request" } };
      return answer(async () => {
        const call = parseExplainRequest(body);
        return explainJson(await explainer.explain(call, { deadlineMs: Date.now() + STORE_BUDGET_MS }));
      });
    }
    if (url.pathname === "/usage") {
      if (method !== "GET") return { status: 405, body: { error: "GET /usage?domain=…&key=value…" } };
      return answer(async () => {
        const table = policy();
        const call = usageCall(url.searchParams, table);
        const base = table.explain?.(call.domain, call.descriptors[0]?.entries ?? []);
        if (!table.hasDomain(call.domain)) throw new NotFound(`unknown domain "${call.domain}"`);
        if (base?.unmatched !== undefined) throw new NotFound("no rule matches this descriptor");
        return usageJson(await explainer.explain(call, { deadlineMs: Date.now() + STORE_BUDGET_MS }));
      });
    }
    return { status: 404, body: { error: `no question at ${url.pathname}` } };
  };
}

class NotFound extends Error {}

/** Runs a question; maps its errors to statuses: 400 bad input, 404 nothing to show, 503 store down. */
async function answer(ask: () => Promise<unknown>): Promise<ExplainAnswer> {
  try {
    return { status: 200, body: await ask() };
  } catch (error: unknown) {
    if (error instanceof InvalidRequestError) return { status: 400, body: { error: error.message } };
    if (error instanceof NotFound) return { status: 404, body: { error: error.message } };
    if (error instanceof StoreError) return { status: 503, body: { error: error.message } };
    return { status: 500, body: { error: "internal error" } };
  }
}
