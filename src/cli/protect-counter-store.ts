import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { CounterStore } from "../store/counter-store.ts";
import { guardCounterStore } from "../store/guarded-counter-store.ts";
import { RedisCounterStore } from "../store/redis-counter-store.ts";
import { circuitChangeReport } from "./circuit-change-report.ts";

export interface StoreProtection {
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * Puts a Redis-backed store behind the guard (timeouts, in-flight bound, one circuit breaker per
 * Redis node) and reports circuit changes to metrics and logs. `store` is what the guard calls
 * (the instrumented backend); `backend` tells which Redis node holds a key. The memory store is
 * returned as it is: it cannot be unreachable, and a timer per call would only cost.
 */
export function protectCounterStore(
  backend: CounterStore,
  store: CounterStore,
  { timeoutMs, maxInFlight, metrics, logger }: StoreProtection,
): CounterStore {
  if (!(backend instanceof RedisCounterStore)) return store;
  const guarded = guardCounterStore(store, {
    timeoutMs,
    maxInFlight,
    clock: () => Date.now(),
    partitionOf: (key) => backend.partitionOf(key),
    onCircuitChange: circuitChangeReport({ logger, metrics }, "counter", () => guarded.openCircuits()),
  });
  return guarded;
}
