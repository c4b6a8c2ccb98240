import type { ServerResponse } from "node:http";
import type { Explainer } from "../../limiter/explain-call.ts";
import { InvalidRequestError } from "../../limiter/limiter-types.ts";
import type { PolicyTable } from "../../policy/policy-types.ts";
import { StoreError } from "../../store/counter-store.ts";
import type { AdminRoute } from "./admin-server.ts";
import { explainJson, usageJson } from "./explain-json.ts";
import { parseExplainRequest, usageCall } from "./explain-request.ts";
import { BodyTooLarge, readBody } from "./read-body.ts";

/**
 * POST /explain and GET /usage on the admin port (docs/explain-and-usage.md). Both are read-only:
 * they peek at the counters a call names and count nothing. They reveal who uses what, so they
 * belong behind the operator's own auth, like the rest of the admin port.
 */

/** Larger than any sane explain request (the gRPC edge's own bound is 64 KiB), small enough to hold. */
export const MAX_EXPLAIN_BODY_BYTES = 64 * 1024;

/** How long a question may wait on the store, in ms; the guard's own timeout may be shorter. */
const STORE_BUDGET_MS = 5_000;

export interface ExplainRoutesOptions {
  readonly explainer: Explainer;
  readonly policy: () => PolicyTable;
}

export function explainRoutes({ explainer, policy }: ExplainRoutesOptions): AdminRoute {
  return (request, response) => {
    const url = new URL(request.url ?? "/", "http://admin");
    if (url.pathname === "/explain") {
      if (request.method !== "POST") return reply(response, 405, { error: "POST a ShouldRateLimit request" });
      return answer(response, async () => {
        const call = parseExplainRequest(await readBody(request, MAX_EXPLAIN_BODY_BYTES));
        return explainJson(await explainer.explain(call, { deadlineMs: Date.now() + STORE_BUDGET_MS }));
      });
    }
    if (url.pathname === "/usage") {
      if (request.method !== "GET") return reply(response, 405, { error: "GET /usage?domain=…&key=value…" });
      return answer(response, async () => {
        const table = policy();
        const call = usageCall(url.searchParams, table);
        const base = table.explain?.(call.domain, call.descriptors[0]?.entries ?? []);
        if (!table.hasDomain(call.domain)) throw new NotFound(`unknown domain "${call.domain}"`);
        if (base?.unmatched !== undefined) throw new NotFound("no rule matches this descriptor");
        return usageJson(await explainer.explain(call, { deadlineMs: Date.now() + STORE_BUDGET_MS }));
      });
    }
    return false;
  };
}

class NotFound extends Error {}

/** Runs a question; maps its errors to statuses: 400 bad input, 404 nothing to show, 503 store down. */
async function answer(response: ServerResponse, ask: () => Promise<unknown>): Promise<true> {
  try {
    return reply(response, 200, await ask());
  } catch (error: unknown) {
    if (error instanceof InvalidRequestError || error instanceof BodyTooLarge)
      return reply(response, error instanceof BodyTooLarge ? 413 : 400, { error: error.message });
    if (error instanceof NotFound) return reply(response, 404, { error: error.message });
    const message = error instanceof StoreError ? error.message : "internal error";
    return reply(response, error instanceof StoreError ? 503 : 500, { error: message });
  }
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
