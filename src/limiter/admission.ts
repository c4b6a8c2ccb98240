import type { DescriptorMode } from "../store/counter-store.ts";

/**
 * The request-level admission rule, shared by every store (the Redis script mirrors it).
 *
 * A descriptor fails when any of its windows fails. The request is refused iff an enforced
 * descriptor fails; shadow descriptors never refuse. A quota_mode descriptor never refuses either
 * (envoyproxy/ratelimit answers it OK however far over it is), so planCharges hands it over as
 * shadow (admissionMode in plan-charges.ts).
 */
export function isAdmitted(descriptors: readonly { mode: DescriptorMode; failed: boolean }[]): boolean {
  return !descriptors.some((d) => d.mode === "enforced" && d.failed);
}

/**
 * Sliding-window estimate E = p·(1 − f) + c, with f the elapsed fraction of the current slot.
 * `nowMs` and `windowMs` in milliseconds.
 */
export function estimate(current: number, previous: number, nowMs: number, windowMs: number): number {
  const elapsed = (nowMs % windowMs) / windowMs;
  return previous * (1 - elapsed) + current;
}

/** A window admits a request of cost h iff E + h ≤ L. */
export function windowPasses(estimated: number, cost: number, limit: number): boolean {
  return estimated + cost <= limit;
}

/**
 * The hits a charged window adds: the cost when the request is admitted; for a refused one that still
 * counts (count_rejected), at most the window's limit. A refusal then keeps a tight retry loop refused
 * (every retry adds up to L) without letting one call with a huge cost lock its key for more than two
 * windows, or push a Redis counter towards int64 overflow.
 */
export function chargedHits(cost: number, limit: number, admitted: boolean): number {
  return admitted || cost <= limit ? cost : limit;
}
