import type {
  ChargeOptions,
  ChargeResult,
  CounterStore,
  DescriptorCharge,
  PeekResult,
  SlotHits,
} from "./counter-store.ts";
import { createStoreGuard, type StoreGuardSettings, withTimeout } from "./store-guard.ts";

export interface GuardedCounterStoreOptions extends StoreGuardSettings {
  /**
   * Which independently failing part of the backend holds a counter (a Redis Cluster node), so one
   * dead node opens only its own circuit. Default: one partition for the whole store. A call that
   * spans several partitions and fails counts against each of them: the store does not say which.
   */
  readonly partitionOf?: (counterKey: string) => string;
}

export interface GuardedCounterStore extends CounterStore {
  /** Always a promise: the store behind a guard is a remote one. */
  charge(descriptors: readonly DescriptorCharge[], options?: ChargeOptions): Promise<ChargeResult>;
  addHits(hits: readonly SlotHits[]): Promise<void>;
  peek(descriptors: readonly DescriptorCharge[], options?: ChargeOptions): Promise<PeekResult>;
  /** Partitions whose circuit is not closed (for the metrics gauge). */
  openCircuits(): number;
}

/**
 * Wraps a remote store so that no call waits on it for long and nothing piles up behind it
 * (store-guard.ts, shared with the lease store):
 * - each charge gets at most `timeoutMs`, or less when the caller's deadline is nearer;
 * - at most `maxInFlight` charges are outstanding: a slow store cannot grow an unbounded queue of
 *   pending commands, the excess is shed at once;
 * - a circuit breaker per partition stops sending to a store that keeps failing and probes it.
 * Each refusal is a transient StoreGuardError, which the limiter answers per its failure policy.
 *
 * A charge that timed out here may still complete in the store and count its hits: Redis cannot
 * take back a command already sent. The error is on the side of counting, never of over-admitting.
 */
export function guardCounterStore(
  store: CounterStore,
  options: GuardedCounterStoreOptions,
): GuardedCounterStore {
  const partitionOf = options.partitionOf ?? (() => "");
  const guard = createStoreGuard("counter store", options);
  return {
    charge(descriptors: readonly DescriptorCharge[], callOptions?: ChargeOptions): Promise<ChargeResult> {
      return guard.call(
        new Set(descriptors.map((d) => partitionOf(d.counterKey))),
        callOptions?.deadlineMs,
        () => store.charge(descriptors, callOptions),
        "counter store: no answer in time",
      );
    },
    // A peek is guarded like a charge: an operator's question must not wait on a dead node either.
    peek(descriptors, callOptions) {
      return guard.call(
        new Set(descriptors.map((d) => partitionOf(d.counterKey))),
        callOptions?.deadlineMs,
        () => store.peek(descriptors, callOptions),
        "counter store: no answer in time to a peek",
      );
    },
    addHits(hits) {
      return guard.call(
        new Set(hits.map((h) => partitionOf(h.counterKey))),
        undefined,
        () => store.addHits(hits),
        "counter store: no answer in time to adding refused hits",
      );
    },
    ping() {
      return withTimeout(store.ping(), options.timeoutMs, "counter store: no answer to ping in time");
    },
    close() {
      return store.close();
    },
    openCircuits: () => guard.openCircuits(),
  };
}
