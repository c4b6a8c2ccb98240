import type { Code, Header, HeaderStyle } from "./limiter-types.ts";
import type { WindowReport } from "./window-report.ts";

/**
 * Rate-limit headers describing the request's binding window (chosen by the caller among windows
 * that are not shadow; `undefined` when there is none, and then no header is sent).
 *
 * "x-ratelimit" (the de-facto convention, as envoyproxy/ratelimit sends it):
 *   X-RateLimit-Limit: L
 *   X-RateLimit-Remaining: remaining
 *   X-RateLimit-Reset: Unix seconds, rounded up. On OK the end of the current slot, (k + 1)·W; on
 *     OVER_LIMIT t + Retry-After, so a client trusting either header is not refused again (the end
 *     of the current slot when no wait can help).
 *   Retry-After: on OVER_LIMIT, whole seconds; omitted when no wait can let the request pass.
 *
 * "draft" (draft-ietf-httpapi-ratelimit-headers-07, the revision that introduced the single
 * `RateLimit` dictionary and the `RateLimit-Policy` list):
 *   RateLimit-Policy: L;w=<W in seconds>
 *   RateLimit: limit=L, remaining=r, reset=<seconds until reset, same instant as X-RateLimit-Reset>
 *   Retry-After: as above.
 *
 * "envoy-ratelimit" (envoyproxy/ratelimit's LIMIT_RESPONSE_HEADERS_ENABLED, its names by default,
 * each renamed by `names` as its LIMIT_*_HEADER renames it):
 *   RateLimit-Limit: L
 *   RateLimit-Remaining: remaining
 *   RateLimit-Reset: seconds until reset (as the reference: an interval, not an instant)
 *   Retry-After: as above (the reference sends none; it is what Sluice adds).
 *
 * "none": no header at all (the 429 body is still sent).
 *
 * Names are given in their usual capitalisation; Envoy lowercases header names in any case.
 */
export interface HeaderInput {
  readonly style: HeaderStyle;
  readonly code: Code;
  readonly binding: WindowReport | undefined;
  /** t, ms since the epoch. */
  readonly nowMs: number;
  /** Also pass the figures to the upstream as request headers (on OK only; Envoy ignores them otherwise). */
  readonly upstreamHeaders: boolean;
  /** The envoy-ratelimit style's names; the reference's defaults when absent. */
  readonly names?: HeaderNames | undefined;
}

/** The names of the envoy-ratelimit style's three headers. */
export interface HeaderNames {
  readonly limit: string;
  readonly remaining: string;
  readonly reset: string;
}

/** envoyproxy/ratelimit's defaults (LIMIT_LIMIT_HEADER, LIMIT_REMAINING_HEADER, LIMIT_RESET_HEADER). */
export const REFERENCE_HEADER_NAMES: HeaderNames = Object.freeze({
  limit: "RateLimit-Limit",
  remaining: "RateLimit-Remaining",
  reset: "RateLimit-Reset",
});

export interface RateLimitHeaders {
  readonly responseHeaders: readonly Header[];
  readonly requestHeaders: readonly Header[];
}

export function rateLimitHeaders(input: HeaderInput): RateLimitHeaders {
  const { style, code, binding, nowMs } = input;
  if (binding === undefined || style === "none") return { responseHeaders: [], requestHeaders: [] };

  const retryAfter = code === "OVER_LIMIT" ? binding.retryAfterSeconds : undefined;
  const resetAtSeconds =
    retryAfter === undefined
      ? Math.ceil((nowMs + binding.resetMs) / 1000)
      : Math.ceil(nowMs / 1000) + retryAfter;
  const resetInSeconds = retryAfter ?? Math.ceil(binding.resetMs / 1000);

  const names = input.names ?? REFERENCE_HEADER_NAMES;
  const figures: Header[] =
    style === "x-ratelimit"
      ? [
          { key: "X-RateLimit-Limit", value: String(binding.limit) },
          { key: "X-RateLimit-Remaining", value: String(binding.remaining) },
          { key: "X-RateLimit-Reset", value: String(resetAtSeconds) },
        ]
      : style === "envoy-ratelimit"
        ? [
            { key: names.limit, value: String(binding.limit) },
            { key: names.remaining, value: String(binding.remaining) },
            { key: names.reset, value: String(resetInSeconds) },
          ]
        : [
            { key: "RateLimit-Policy", value: `${binding.limit};w=${binding.windowMs / 1000}` },
            {
              key: "RateLimit",
              value: `limit=${binding.limit}, remaining=${binding.remaining}, reset=${resetInSeconds}`,
            },
          ];

  if (code === "OK") {
    return { responseHeaders: figures, requestHeaders: input.upstreamHeaders ? figures : [] };
  }
  const retry = retryAfter === undefined ? [] : [{ key: "Retry-After", value: String(retryAfter) }];
  return { responseHeaders: [...figures, ...retry], requestHeaders: [] };
}
