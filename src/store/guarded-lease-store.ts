import type { Clock } from "../clock.ts";
import { StoreGuardError, withTimeout } from "./guarded-counter-store.ts";
import type { LeaseCallOptions, LeaseStore } from "./lease-store.ts";

export interface GuardedLeaseStoreOptions {
  /** Longest wait for one acquire or release, in ms; a call's own deadline can shorten it. */
  readonly timeoutMs: number;
  readonly clock: Clock;
}

/**
 * Puts the counters' per-call deadline in front of a remote lease store: each acquire and release
 * waits at most `timeoutMs` (`--store-timeout-ms`), or less when the caller's deadline is nearer,
 * and then fails with a transient StoreGuardError, which the concurrency limiter answers per the
 * failure policy. Waiting in a lease queue is not a store call: only each script call is bounded.
 *
 * Like a charge, an acquire the guard stopped waiting for may still run in Redis and take its lease;
 * it then holds a slot until its release or `lease_ttl`, erring on the side of admitting fewer.
 */
export function guardLeaseStore(
  store: LeaseStore,
  { timeoutMs, clock }: GuardedLeaseStoreOptions,
): LeaseStore {
  const bounded = <T>(call: () => Promise<T>, options: LeaseCallOptions | undefined, what: string) => {
    const budgetMs = Math.min(timeoutMs, (options?.deadlineMs ?? Number.POSITIVE_INFINITY) - clock());
    if (budgetMs <= 0) {
      return Promise.reject(new StoreGuardError("timeout", `lease store: the call's deadline has passed`));
    }
    return withTimeout(call(), budgetMs, `lease store: no ${what} reply in time`);
  };
  return {
    acquire: (request, options) => bounded(() => store.acquire(request), options, "acquire"),
    release: (key, leaseId, options) => bounded(() => store.release(key, leaseId), options, "release"),
    onRelease: (listener) => store.onRelease(listener),
    close: () => store.close(),
  };
}
