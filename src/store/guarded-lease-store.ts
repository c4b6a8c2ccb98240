import type { LeaseCallOptions, LeaseStore } from "./lease-store.ts";
import { createStoreGuard, type StoreGuardSettings } from "./store-guard.ts";

export interface GuardedLeaseStoreOptions extends StoreGuardSettings {
  /**
   * Which Redis node holds a lease set (RedisLeaseStore.partitionOf), so one dead Cluster master
   * opens only its own circuit. Default: one partition for the whole store.
   */
  readonly partitionOf?: (leaseKey: string) => string;
}

export interface GuardedLeaseStore extends LeaseStore {
  /** Partitions whose circuit is not closed. */
  openCircuits(): number;
}

/**
 * Gives lease script calls the counters' protection (store-guard.ts), with the same settings: each
 * acquire, release and count waits at most `timeoutMs` (`--store-timeout-ms`), or less when the caller's
 * deadline is nearer; at most `maxInFlight` lease calls are outstanding, beyond which calls are shed
 * at once; and a circuit breaker per Redis node answers at once after repeated failures, probing for
 * recovery. Each refusal is a transient StoreGuardError, which the concurrency limiter answers per the
 * failure policy. Waiting in a lease queue is not a store call: only each script call is guarded.
 * The bound and the breakers are the lease store's own, apart from the counters'.
 *
 * An acquire the guard stopped waiting for may still run in Redis later (a paused Redis runs what
 * waited in its socket when it resumes): it carries the caller's deadline, so the script then
 * refuses it once that has passed; one that runs sooner is given back by the release the store
 * sends for every acquire it stopped waiting for (retried-lease-releases.ts).
 */
export function guardLeaseStore(store: LeaseStore, options: GuardedLeaseStoreOptions): GuardedLeaseStore {
  const partitionOf = options.partitionOf ?? (() => "");
  const guard = createStoreGuard("lease store", options);
  const guarded = <T>(
    key: string,
    call: LeaseCallOptions | undefined,
    invoke: () => Promise<T>,
    what: string,
  ) => guard.call([partitionOf(key)], call?.deadlineMs, invoke, `lease store: no ${what} reply in time`);
  return {
    acquire: (request, call) => guarded(request.key, call, () => store.acquire(request, call), "acquire"),
    release: (key, leaseId, call) => guarded(key, call, () => store.release(key, leaseId), "release"),
    held: (key, call) => guarded(key, call, () => store.held(key, call), "count"),
    onRelease: (listener) => store.onRelease(listener),
    close: () => store.close(),
    openCircuits: () => guard.openCircuits(),
  };
}
