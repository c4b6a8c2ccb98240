import type { Decision } from "./limiter-types.ts";
import type { RateLimiter } from "./rate-limiter.ts";

/**
 * The service-wide shadow mode (envoyproxy/ratelimit's SHADOW_MODE): every call is decided, counted
 * and reported as usual, and then a refusal is answered OK. One wrapper around the outermost limiter,
 * so rate windows, concurrency leases, the over-limit cache and the failure policy's `deny` are all
 * let through alike; errors (INVALID_ARGUMENT, UNAVAILABLE) are not decisions and pass unchanged.
 */
export function shadowEveryDecision(limiter: RateLimiter): RateLimiter {
  return {
    shouldRateLimit(call, context) {
      const decision = limiter.shouldRateLimit(call, context);
      return decision instanceof Promise ? decision.then(letThrough) : letThrough(decision);
    },
  };
}

/**
 * A refusal turned OK. The statuses keep each descriptor's own code and figures, as the reference
 * keeps them, and the outcomes too, so per-rule metrics count the refusals shadow mode hides.
 * Every header and the 429 body go: they belong to a refusal (Retry-After, the body's content-type,
 * which would replace the upstream's) or would tell a client it has nothing left (remaining 0) while
 * it is let through, and a client backing off on them would be limited after all.
 */
function letThrough(decision: Decision): Decision {
  if (decision.code === "OK") return decision;
  return {
    ...decision,
    code: "OK",
    responseHeaders: [],
    requestHeaders: [],
    body: undefined,
    shadowed: true,
  };
}
