import type { Header } from "./limiter-types.ts";
import type { WindowReport } from "./window-report.ts";

/**
 * The 429 body Envoy sends on OVER_LIMIT (RateLimitResponse.raw_body), the same whatever the header
 * style. Its fields are a stable contract for clients:
 *
 *   {"error":"rate_limited","limit":"free-per-minute","window":"minute","limit_value":20,"retry_after_seconds":36}
 *
 * - `error`: always "rate_limited";
 * - `limit`: the binding limit's policy `name`, else its rule id;
 * - `window`: the binding limit's unit ("second" … "year");
 * - `limit_value`: its requests per unit;
 * - `retry_after_seconds`: as the Retry-After header; null when no wait can let the request pass
 *   (its cost exceeds the limit).
 * Every field but `error` is null in the (never expected) case that no window explains the refusal.
 */
export interface OverLimitResponse {
  readonly body: Uint8Array;
  /** Envoy sends raw_body without a content type of its own; this header supplies it. */
  readonly headers: readonly Header[];
}

const encoder = new TextEncoder();

export function overLimitResponse(binding: WindowReport | undefined): OverLimitResponse {
  const fields = {
    error: "rate_limited",
    limit: binding === undefined ? null : (binding.name ?? binding.ruleId),
    window: binding?.unit ?? null,
    limit_value: binding?.limit ?? null,
    retry_after_seconds: binding?.retryAfterSeconds ?? null,
  };
  return {
    body: encoder.encode(JSON.stringify(fields)),
    headers: [{ key: "content-type", value: "application/json" }],
  };
}
