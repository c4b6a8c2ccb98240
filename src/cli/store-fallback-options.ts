import { systemClock } from "../clock.ts";
import type { RateLimiterOptions } from "../limiter/rate-limiter.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Settings } from "../settings/settings.ts";
import { MemoryCounterStore } from "../store/memory-counter-store.ts";
import { fallbackReason } from "../store/store-guard.ts";
import { memoryStoreOptions } from "./memory-store-options.ts";

export type StoreFallbackOptions = Required<
  Pick<RateLimiterOptions, "failurePolicy" | "local" | "onFallback">
>;

/**
 * The limiter's answer to a store it cannot ask: the configured failure policy, this instance's own
 * counters for `local` (created even when the service default is another policy, since a domain's
 * policy file may ask for it, and costing nothing until used), and a fallback counter in metrics.
 */
export function storeFallbackOptions(
  settings: Pick<Settings, "failurePolicy" | "expectedInstances" | "memoryMaxEntries">,
  metrics: Metrics,
): StoreFallbackOptions {
  return {
    failurePolicy: settings.failurePolicy,
    local: {
      store: new MemoryCounterStore({ ...memoryStoreOptions(settings, metrics), clock: systemClock }),
      expectedInstances: settings.expectedInstances,
    },
    onFallback: ({ policy, error }) => metrics.recordStoreFallback(policy, fallbackReason(error)),
  };
}
