import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import { InvalidRequestError } from "../../limiter/limiter-types.ts";
import type { RateLimiter } from "../../limiter/rate-limiter.ts";
import type { Metrics } from "../../metrics/metrics.ts";
import type { PolicyTable } from "../../policy/policy-types.ts";
import { StoreError } from "../../store/counter-store.ts";
import type { AdminRoute } from "./admin-server.ts";
import { parseExplainRequest } from "./explain-request.ts";
import { rateLimitResponseJson } from "./rate-limit-response-json.ts";
import { BodyTooLarge, readBody } from "./read-body.ts";

/**
 * envoyproxy/ratelimit's HTTP surface, for clients that cannot speak gRPC (curl, Lua):
 * - POST /json takes a ShouldRateLimit request in protobuf's JSON form and decides it for real
 *   (hits are counted) through the same limiter as gRPC, answering the RateLimitResponse as
 *   protojson with the reference's statuses: 200 OK, 429 OVER_LIMIT, 400 for a request it cannot
 *   read or the limiter refuses. Sluice answers 503 where the counter store cannot be asked (the
 *   reference answers 400 for any service error) and takes POST only (the reference takes any
 *   method, and a GET without a body is a 400 there).
 * - GET /rlconfig prints the live policy as the reference's debug port does (dump-policy.ts).
 */

/** Larger than any sane ShouldRateLimit request (the gRPC edge's own default bound is 64 KiB). */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

export interface ReferenceRoutesOptions {
  /** The limiter gRPC calls go through (concurrency limits included). */
  readonly limiter: RateLimiter;
  readonly policy: () => PolicyTable;
  readonly metrics: Pick<Metrics, "recordDecision" | "recordError">;
}

export function referenceRoutes(options: ReferenceRoutesOptions): AdminRoute {
  return (request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/json") {
      if (request.method !== "POST")
        return text(response, 405, "POST a ShouldRateLimit request as JSON\n", { allow: "POST" });
      return decide(request, response, options);
    }
    if (path === "/rlconfig") {
      if (request.method !== "GET" && request.method !== "HEAD")
        return text(response, 405, "GET /rlconfig\n", { allow: "GET" });
      return text(response, 200, options.policy().dump?.() ?? "");
    }
    return false;
  };
}

async function decide(
  request: IncomingMessage,
  response: ServerResponse,
  { limiter, policy, metrics }: ReferenceRoutesOptions,
): Promise<true> {
  try {
    const call = parseExplainRequest(await readBody(request, MAX_JSON_BODY_BYTES));
    const decision = await limiter.shouldRateLimit(call);
    metrics.recordDecision(call.domain, policy().hasDomain(call.domain), decision);
    const body = JSON.stringify(rateLimitResponseJson(decision));
    response.writeHead(decision.code === "OK" ? 200 : 429, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
    });
    response.end(body);
    return true;
  } catch (error: unknown) {
    const { status, kind } = errorStatus(error);
    metrics.recordError(kind);
    const detail = error instanceof Error && status !== 500 ? error.message : "internal error";
    return text(response, status, `${STATUS_CODES[status]}: ${detail}\n`);
  }
}

function errorStatus(error: unknown): {
  status: number;
  kind: "invalid_argument" | "unavailable" | "internal";
} {
  if (error instanceof InvalidRequestError) return { status: 400, kind: "invalid_argument" };
  if (error instanceof BodyTooLarge) return { status: 413, kind: "invalid_argument" };
  if (error instanceof StoreError) return { status: 503, kind: "unavailable" };
  return { status: 500, kind: "internal" };
}

function text(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): true {
  response.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  response.end(body);
  return true;
}
