import type { Clock } from "../clock.ts";
import {
  type LeaseCallOptions,
  type LeaseGrant,
  type LeaseRelease,
  type LeaseRequest,
  type LeaseStore,
  SET_TTL_FACTOR,
} from "./lease-store.ts";

export interface MemoryLeaseStoreOptions {
  readonly clock: Clock;
  /** How often lapsed sets are dropped, in ms (reads ignore them before that). */
  readonly sweepIntervalMs?: number;
}

/** One lease set: lease id → expiry instant, and when the set itself lapses (like a key's PEXPIRE). */
interface LeaseSet {
  readonly leases: Map<string, number>;
  expiresAt: number;
}

const DEFAULT_SWEEP_INTERVAL_MS = 10_000;

/**
 * Leases in one process's memory: for a single instance, tests and development. Node runs each call
 * to completion without yielding, so every call is atomic, as the Redis script is. Expiry follows
 * the Redis store exactly: a lease whose expiry instant has come is gone, and a set lapses
 * SET_TTL_FACTOR lease ttls after its latest acquire.
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly #clock: Clock;
  readonly #sets = new Map<string, LeaseSet>();
  readonly #listeners = new Set<(key: string) => void>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: MemoryLeaseStoreOptions) {
    this.#clock = options.clock;
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    // The sweeper only frees memory; it must not keep the process alive on shutdown.
    this.#sweeper.unref();
  }

  acquire(request: LeaseRequest, options?: LeaseCallOptions): Promise<LeaseGrant> {
    const nowMs = this.#clock();
    const { set, expired } = this.#live(request.key, nowMs);
    const leases = set.leases;
    const late = options?.deadlineMs !== undefined && nowMs >= options.deadlineMs;
    const granted = !late && (leases.has(request.leaseId) || leases.size < request.max);
    if (granted) {
      leases.set(request.leaseId, nowMs + request.ttlMs);
      set.expiresAt = Math.max(set.expiresAt, nowMs + SET_TTL_FACTOR * request.ttlMs);
      this.#sets.set(request.key, set);
    }
    if (expired > 0) this.#notify(request.key);
    const earliest = granted || leases.size === 0 ? undefined : Math.min(...leases.values());
    return Promise.resolve({
      granted,
      held: leases.size,
      expired,
      nextExpiryMs: earliest === undefined ? undefined : Math.max(0, earliest - nowMs),
      late: late ? true : undefined,
    });
  }

  release(key: string, leaseId: string): Promise<LeaseRelease> {
    const { set, expired } = this.#live(key, this.#clock());
    const released = set.leases.delete(leaseId);
    if (set.leases.size === 0) this.#sets.delete(key);
    if (released || expired > 0) this.#notify(key);
    return Promise.resolve({ released, held: set.leases.size, expired });
  }

  held(key: string): Promise<number> {
    const nowMs = this.#clock();
    const stored = this.#sets.get(key);
    if (stored === undefined || stored.expiresAt <= nowMs) return Promise.resolve(0);
    let held = 0;
    for (const expiresAt of stored.leases.values()) if (expiresAt > nowMs) held++;
    return Promise.resolve(held);
  }

  onRelease(listener: (key: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#sets.clear();
    this.#listeners.clear();
    return Promise.resolve();
  }

  /** Drops lapsed sets; runs on the timer, callable directly from tests. */
  sweep(): void {
    const nowMs = this.#clock();
    for (const [key, set] of this.#sets) {
      if (set.expiresAt <= nowMs) this.#sets.delete(key);
    }
  }

  /** Number of lease sets held (for tests of expiry). */
  get size(): number {
    return this.#sets.size;
  }

  /** The set with its expired leases removed and counted (like ZREMRANGEBYSCORE); a lapsed set is empty. */
  #live(key: string, nowMs: number): { set: LeaseSet; expired: number } {
    const stored = this.#sets.get(key);
    if (stored === undefined || stored.expiresAt <= nowMs) {
      this.#sets.delete(key);
      return { set: { leases: new Map(), expiresAt: 0 }, expired: 0 };
    }
    let expired = 0;
    for (const [id, expiresAt] of stored.leases) {
      if (expiresAt <= nowMs) {
        stored.leases.delete(id);
        expired++;
      }
    }
    return { set: stored, expired };
  }

  /** Listeners hear of it after the current call has returned, as they would from Redis. */
  #notify(key: string): void {
    for (const listener of this.#listeners) queueMicrotask(() => listener(key));
  }
}
