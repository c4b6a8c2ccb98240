import { systemClock } from "../clock.ts";
import { withConcurrencyLimits } from "../limiter/concurrency-limiter.ts";
import type { DecideOptions } from "../limiter/decide.ts";
import { createLeaseQueue } from "../limiter/lease-queue.ts";
import type { RateLimiter } from "../limiter/rate-limiter.ts";
import type { RequestLimits } from "../limiter/request-limits.ts";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import { counterKey } from "../store/counter-key.ts";
import type { CounterStore } from "../store/counter-store.ts";
import type { CounterStoreSettings } from "../store/create-counter-store.ts";
import { createLeaseStore } from "../store/create-lease-store.ts";
import { guardLeaseStore } from "../store/guarded-lease-store.ts";
import { lazyLeaseStore } from "../store/lazy-lease-store.ts";
import type { LeaseCallOptions, LeaseStore } from "../store/lease-store.ts";
import { MemoryLeaseStore } from "../store/memory-lease-store.ts";
import { RedisLeaseStore } from "../store/redis-lease-store.ts";
import { retryFailedReleases } from "../store/retried-lease-releases.ts";
import { systemTimers } from "../timers.ts";
import { circuitChangeReport } from "./circuit-change-report.ts";
import type { StoreFallbackOptions } from "./store-fallback-options.ts";

/**
 * Longest a queued request goes without asking Redis again, in ms. Release notices arrive by
 * pub/sub within a millisecond or two; this only bounds the wait when one is lost (a subscriber
 * reconnecting), at the cost of one script call per queued lease set per interval.
 */
export const LEASE_RETRY_INTERVAL_MS = 100;

/**
 * Failed lease releases, kept to be sent again once Redis answers (retried-lease-releases.ts): a
 * round every 250 ms, at most 10,000 waiting (each a key and an id), each for at most 60 s, the
 * default lease_ttl, after which its lease has mostly been reclaimed anyway.
 */
const RELEASE_RETRY = { retryIntervalMs: 250, maxPending: 10_000, maxAgeMs: 60_000 } as const;

export interface ConcurrencyLimitsOptions {
  readonly storeSettings: CounterStoreSettings;
  /** `--store-timeout-ms`: the longest wait for one lease script call, as for a charge. */
  readonly storeTimeoutMs: number;
  /** `--store-max-in-flight`: lease script calls outstanding at once (a bound of their own). */
  readonly storeMaxInFlight: number;
  /** The counters' failure policy, expected instances and fallback metric, which leases follow too. */
  readonly fallback: StoreFallbackOptions;
  readonly policy: () => PolicyTable;
  /** The counter store the rate limiter charges (guarded, instrumented). */
  readonly store: CounterStore;
  readonly decideOptions: DecideOptions;
  readonly limits: RequestLimits;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

export interface ConcurrencyLimits {
  readonly limiter: RateLimiter;
  /**
   * Leases a set holds now, by the shared lease store's clock, read without taking or reclaiming
   * one (for /explain and /usage). Guarded like lease calls; the `local` failure policy's own
   * leases are not counted (they exist only while the store is down, when this fails anyway).
   */
  leasesHeld(leaseKey: string, options?: LeaseCallOptions): Promise<number>;
  /** Settles queued requests and closes the lease store; after the gRPC server has drained. */
  close(): Promise<void>;
}

/** Wraps the rate limiter with concurrency leases kept where the counters are (concurrency-limiter.ts). */
export function addConcurrencyLimits(
  inner: RateLimiter,
  options: ConcurrencyLimitsOptions,
): ConcurrencyLimits {
  const { metrics, logger, fallback } = options;
  let failing = false;
  // With the memory store, created on the first call that carries a lease entry.
  const leaseStore = lazyLeaseStore(() => {
    const store = createLeaseStore(options.storeSettings, systemClock, {
      // A backstop behind the guard's own timeout, as for the counters.
      commandTimeoutMs: 2 * options.storeTimeoutMs,
      // Connection trouble is reported by the counter store already; one line per episode here.
      onStateChange(up) {
        if (!up && !failing) logger.warn("lease store connection lost");
        else if (up && failing) logger.info("lease store connection back");
        failing = !up;
      },
    });
    // The memory store cannot be unreachable; a timer per call would only cost.
    if (!(store instanceof RedisLeaseStore)) return store;
    // The counters' protection with their settings; its circuits are logged and counted apart.
    const guarded = guardLeaseStore(store, {
      timeoutMs: options.storeTimeoutMs,
      maxInFlight: options.storeMaxInFlight,
      clock: systemClock,
      partitionOf: (key) => store.partitionOf(key),
      onCircuitChange: circuitChangeReport({ logger, metrics }, "lease", () => guarded.openCircuits()),
    });
    return retryFailedReleases(guarded, {
      ...RELEASE_RETRY,
      clock: systemClock,
      timers: systemTimers,
      onDropped: (reason) => metrics.recordDroppedLeaseRelease(reason),
    });
  });
  // With Redis, connect at start rather than on the first lease call: a fresh instance's first burst
  // of lease calls would otherwise spend its callers' short deadlines (Envoy's timeout, minus the
  // queue) on the connection and fail open. Two idle connections per instance are the cost.
  if (
    options.storeSettings.redisUrl ??
    options.storeSettings.redisCluster ??
    options.storeSettings.redisSentinel
  )
    leaseStore.open();
  const queueOver = (store: LeaseStore) =>
    createLeaseQueue({
      store,
      clock: systemClock,
      timers: systemTimers,
      retryIntervalMs: LEASE_RETRY_INTERVAL_MS,
    });
  const leases = queueOver(leaseStore);
  // The `local` failure policy's leases: this process's own, created whatever the service's
  // policy (a domain's file may ask for `local`), costing nothing until used.
  const localStore = new MemoryLeaseStore({ clock: systemClock });
  const local = { leases: queueOver(localStore), expectedInstances: fallback.local.expectedInstances };
  const limiter = withConcurrencyLimits(inner, {
    policy: options.policy,
    store: options.store,
    counterKey,
    decideOptions: options.decideOptions,
    limits: options.limits,
    leases,
    clock: systemClock,
    onLeaseEvent: (event) => metrics.recordLeaseEvent(event),
    failurePolicy: fallback.failurePolicy,
    local,
    onFallback: fallback.onFallback,
  });
  return {
    limiter,
    leasesHeld: (key, call) => leaseStore.held(key, call),
    async close() {
      leases.close();
      local.leases.close();
      await Promise.all([leaseStore.close(), localStore.close()]);
    },
  };
}
