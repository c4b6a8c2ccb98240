import type { DescriptorMode } from "../store/counter-store.ts";

/**
 * The request-level admission rule, shared by every store (the Redis script mirrors it).
 *
 * A descriptor fails when any of its windows fails. The request is refused iff an enforced
 * descriptor fails, or quota descriptors exist and every one of them fails (quota_mode, as in
 * envoyproxy/ratelimit: quota descriptors only refuse together). Shadow descriptors never refuse.
 */
export function isAdmitted(descriptors: readonly { mode: DescriptorMode; failed: boolean }[]): boolean {
  let quotaCount = 0;
  let quotaFailed = 0;
  for (const d of descriptors) {
    if (d.mode === "enforced" && d.failed) return false;
    if (d.mode === "quota") {
      quotaCount++;
      if (d.failed) quotaFailed++;
    }
  }
  return quotaCount === 0 || quotaFailed < quotaCount;
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
