/**
 * The lease store: the one interface between the concurrency limiter and its backends
 * (MemoryLeaseStore, RedisLeaseStore). A lease set holds the requests of one concurrency counter
 * that are in flight, each lease named by its request id and ending at an expiry instant, so a
 * release that never comes frees its slot after the lease's ttl instead of never.
 *
 * Every operation first drops the set's expired leases, then acts, as one atomic step (one Lua
 * script in Redis): two instances can never both take the last slot. Times are the store's own
 * clock (Redis `TIME`), so instances with skewed clocks agree on when a lease expires.
 */

export interface LeaseRequest {
  /** The lease set, from `leaseKey` (one per concurrency counter, e.g. per tenant). */
  readonly key: string;
  /** The request's id; taking a lease already held renews it and still counts once. */
  readonly leaseId: string;
  /** Leases the set may hold at once. */
  readonly max: number;
  /** How long the lease lives unless released, in ms. */
  readonly ttlMs: number;
}

export interface LeaseGrant {
  readonly granted: boolean;
  /** Leases in the set after this call. */
  readonly held: number;
  /** Expired leases this call removed (each is a release that never came). */
  readonly expired: number;
  /**
   * Refused only: ms until the set's earliest lease expires, when a slot frees even if no
   * release arrives. Undefined when granted.
   */
  readonly nextExpiryMs?: number | undefined;
  /** Refused because the call's deadline had passed by the store's clock when it ran. */
  readonly late?: boolean | undefined;
}

export interface LeaseRelease {
  /** Whether the lease was held (false for a refused request's id, or a second release). */
  readonly released: boolean;
  readonly held: number;
  readonly expired: number;
}

/** Per-call options. */
export interface LeaseCallOptions {
  /**
   * When the caller stops waiting, in ms since the epoch: a guarded store is not waited on past
   * it (guarded-lease-store.ts), and an acquire that runs at or after it, by the store's clock, is
   * refused `late`, so no lease outlives the call that asked for it.
   */
  readonly deadlineMs?: number | undefined;
}

export interface LeaseStore {
  /** Takes a lease unless `max` unexpired leases are held already, or the deadline has passed. */
  acquire(request: LeaseRequest, options?: LeaseCallOptions): Promise<LeaseGrant>;
  /** Gives a lease back; unknown ids are a no-op. Tells every instance's `onRelease` listeners. */
  release(key: string, leaseId: string, options?: LeaseCallOptions): Promise<LeaseRelease>;
  /**
   * Leases of a set unexpired at the store's clock, read without changing anything: expired leases
   * are skipped, not removed, so a question (`/explain`, `/usage`) reclaims nothing and notifies no
   * one. The next acquire or release removes and reports them as usual.
   */
  held(key: string, options?: LeaseCallOptions): Promise<number>;
  /**
   * Calls `listener` with a set's key whenever a lease of it is released or reclaimed on expiry,
   * by this instance or (for a shared store) any other. Delivery is best effort: waiters also
   * retry on their own, so a lost notice only delays them. Returns the unsubscribe function.
   */
  onRelease(listener: (key: string) => void): () => void;
  close(): Promise<void>;
}

/**
 * A lease set lives this many lease ttls past its latest acquire: a later call still finds, removes
 * and reports (`expired`) leases whose release never came, and a set that falls idle disappears
 * whole afterwards, its leftover leases unreported.
 */
export const SET_TTL_FACTOR = 2;

/**
 * The lease set of a concurrency counter, beside its rate windows: `<counter key>:leases`. It
 * keeps the counter key's `{hash tag}`, so on Redis Cluster it lives in the counter's slot; the
 * suffix cannot collide with a window slot key (`<counter key>:<windowMs>:<k>`).
 */
export function leaseKey(counterKey: string): string {
  return `${counterKey}:leases`;
}
