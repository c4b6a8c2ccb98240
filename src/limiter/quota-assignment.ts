import type { SlotCounts } from "../store/counter-store.ts";
import { currentEstimate, remainingHits, retryAfterSeconds, type WindowState } from "./sliding-window.ts";

/**
 * The quota a Rate Limit Quota Service assigns one bucket of one Envoy, from the bucket's sliding
 * windows as they stand after its usage was charged. Pure: the instant and the stream count are inputs.
 *
 * Envoy 1.40 enforces what it is given locally and reports on a hard-coded 5 s tick
 * (docs/rlqs-findings.md), so an assignment must hold an Envoy to its share of the limit until the
 * next report, and outlive the gap between two reports.
 */
export type QuotaAssignment =
  | { readonly kind: "allow_all"; readonly ttlSeconds: number }
  | { readonly kind: "deny_all"; readonly ttlSeconds: number }
  | {
      readonly kind: "token_bucket";
      readonly ttlSeconds: number;
      /** The bucket's size: this stream's share of what the tightest window has left. */
      readonly maxTokens: number;
      readonly tokensPerFill: number;
      /** Whole seconds, at least 1: Envoy cuts fill intervals to whole seconds and divides by them. */
      readonly fillIntervalSeconds: number;
    };

/** One enforced window of the bucket's rule, with its counters after the report was charged. */
export interface QuotaWindow extends SlotCounts {
  /** L: hits allowed per window. */
  readonly limit: number;
  readonly windowMs: number;
}

/** Envoy 1.40 reports every bucket on this tick, whatever `reporting_interval` says. */
export const REPORT_TICK_SECONDS = 5;

/**
 * TTL of ALLOW_ALL and token-bucket assignments, refreshed by every report: one lost report does not
 * let them lapse, and within 11 s of Sluice going away Envoy falls back to the filter's own
 * `expired_assignment_behavior` / `no_assignment_behavior`. Envoy cuts TTLs to whole seconds and
 * treats under 1 s as expired at once, so every TTL here is a whole number of seconds.
 */
export const ASSIGNMENT_TTL_SECONDS = 2 * REPORT_TICK_SECONDS + 1;

/**
 * A DENY_ALL lasts until the window admits again, but at least past the next report: expiring between
 * two reports would hand the bucket to `no_assignment_behavior` (often ALLOW_ALL) until the next one.
 */
export const MIN_DENY_TTL_SECONDS = REPORT_TICK_SECONDS + 1;

/** For buckets no enforced window limits: unmatched, whitelisted, unlimited and shadow rules. */
export const ALLOW_ALL: QuotaAssignment = Object.freeze({
  kind: "allow_all",
  ttlSeconds: ASSIGNMENT_TTL_SECONDS,
});

/**
 * Assigns one stream its quota. `streams` is how many Envoy streams share the bucket (at least 1).
 * - no window: ALLOW_ALL;
 * - a window with nothing left, or less left than one token per stream: DENY_ALL until the tightest
 *   window would admit one request again (whole seconds, at least MIN_DENY_TTL_SECONDS; a limit of 0
 *   never admits, so ASSIGNMENT_TTL_SECONDS, refreshed by each report);
 * - otherwise a token bucket of ⌊remaining ÷ streams⌋ tokens (the tightest window's remaining), refilled
 *   at the slowest window's sustained rate L ÷ W divided by the streams, rounded down to whole tokens
 *   per whole seconds.
 */
export function assignQuota(
  windows: readonly QuotaWindow[],
  nowMs: number,
  streams: number,
): QuotaAssignment {
  if (windows.length === 0) return ALLOW_ALL;
  const sharers = Math.max(1, Math.floor(streams));
  const states = windows.map((w): WindowState => ({ ...w, nowMs }));
  const remaining = Math.min(...states.map((s) => remainingHits(currentEstimate(s), s.limit)));
  const share = Math.floor(remaining / sharers);
  if (share === 0) return { kind: "deny_all", ttlSeconds: denyTtlSeconds(states, remaining > 0) };
  return {
    kind: "token_bucket",
    ttlSeconds: ASSIGNMENT_TTL_SECONDS,
    maxTokens: share,
    ...fillRate(slowestWindow(windows), sharers),
  };
}

/**
 * Until every exhausted window admits one request. Some room left but under one token per stream
 * (`someLeft`): the next reports decide, so the shortest TTL.
 */
function denyTtlSeconds(states: readonly WindowState[], someLeft: boolean): number {
  if (someLeft) return MIN_DENY_TTL_SECONDS;
  let seconds = MIN_DENY_TTL_SECONDS;
  for (const state of states) {
    if (remainingHits(currentEstimate(state), state.limit) > 0) continue;
    seconds = Math.max(seconds, retryAfterSeconds(state, 1) ?? ASSIGNMENT_TTL_SECONDS);
  }
  return seconds;
}

/** The window with the lowest sustained rate L ÷ W (compared without division). */
function slowestWindow(windows: readonly QuotaWindow[]): QuotaWindow {
  return windows.reduce((slow, w) => (w.limit * slow.windowMs < slow.limit * w.windowMs ? w : slow));
}

/**
 * A window's sustained rate L ÷ W shared by `sharers` streams, as whole tokens per whole seconds and
 * never faster: at least 1 token a second → ⌊L ÷ (W·n)⌋ tokens each second; slower → 1 token every
 * ⌈W·n ÷ L⌉ seconds. Integer arithmetic (windows are whole seconds), so 20 a minute over 2 streams is
 * exactly one token every 6 s. The window's limit is positive here (a limit of 0 leaves nothing).
 */
export function fillRate(
  window: Pick<QuotaWindow, "limit" | "windowMs">,
  sharers: number,
): { tokensPerFill: number; fillIntervalSeconds: number } {
  const perPeriod = Math.round(window.windowMs / 1000) * sharers;
  if (window.limit >= perPeriod)
    return { tokensPerFill: Math.floor(window.limit / perPeriod), fillIntervalSeconds: 1 };
  return { tokensPerFill: 1, fillIntervalSeconds: Math.ceil(perPeriod / window.limit) };
}
