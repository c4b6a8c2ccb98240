import type { Clock } from "../clock.ts";
import { type BreakerState, type CircuitBreaker, createCircuitBreaker } from "./circuit-breaker.ts";
import {
  type ChargeOptions,
  type ChargeResult,
  type CounterStore,
  type DescriptorCharge,
  StoreError,
} from "./counter-store.ts";

/** Why the guard answered without the store's verdict. */
export type GuardReason = "circuit_open" | "overloaded" | "timeout";

/** The guard gave up on the store for this call; always transient, so the failure policy decides. */
export class StoreGuardError extends StoreError {
  readonly reason: GuardReason;
  constructor(reason: GuardReason, message: string) {
    super(message, { transient: true });
    this.name = "StoreGuardError";
    this.reason = reason;
  }
}

/** The metrics label for why a call had no verdict from the store. */
export function fallbackReason(error: unknown): GuardReason | "error" {
  return error instanceof StoreGuardError ? error.reason : "error";
}

export interface GuardedCounterStoreOptions {
  /** Longest wait for one charge or ping, in ms; a call's own deadline can shorten it. */
  readonly timeoutMs: number;
  /** Charges sent and not yet settled; beyond this, calls are shed instead of queued. */
  readonly maxInFlight: number;
  /** Consecutive transient failures that open a partition's circuit. Default 5. */
  readonly failureThreshold?: number;
  /** How long an open circuit waits before one probe, in ms. Default 250. */
  readonly openMs?: number;
  readonly clock: Clock;
  /**
   * Which independently failing part of the backend holds a counter (a Redis Cluster node), so one
   * dead node opens only its own circuit. Default: one partition for the whole store. A call that
   * spans several partitions and fails counts against each of them: the store does not say which.
   */
  readonly partitionOf?: (counterKey: string) => string;
  readonly onCircuitChange?: (partition: string, from: BreakerState, to: BreakerState) => void;
}

export interface GuardedCounterStore extends CounterStore {
  /** Always a promise: the store behind a guard is a remote one. */
  charge(descriptors: readonly DescriptorCharge[], options?: ChargeOptions): Promise<ChargeResult>;
  /** Partitions whose circuit is not closed (for the metrics gauge). */
  openCircuits(): number;
}

const DEFAULT_FAILURE_THRESHOLD = 5;
const DEFAULT_OPEN_MS = 250;

/**
 * Wraps a remote store so that no call waits on it for long and nothing piles up behind it:
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
  const { timeoutMs, maxInFlight, clock } = options;
  const partitionOf = options.partitionOf ?? (() => "");
  const breakers = new Map<string, CircuitBreaker>();
  let inFlight = 0;

  const breakerFor = (partition: string): CircuitBreaker => {
    let breaker = breakers.get(partition);
    if (breaker === undefined) {
      breaker = createCircuitBreaker({
        failureThreshold: options.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD,
        openMs: options.openMs ?? DEFAULT_OPEN_MS,
        clock,
        onStateChange: (from, to) => options.onCircuitChange?.(partition, from, to),
      });
      breakers.set(partition, breaker);
    }
    return breaker;
  };

  /** Every partition of the call lets it through, or none keeps a probe slot it took. */
  const acquire = (descriptors: readonly DescriptorCharge[]): CircuitBreaker[] | undefined => {
    const partitions = new Set(descriptors.map((d) => partitionOf(d.counterKey)));
    const taken: CircuitBreaker[] = [];
    for (const partition of partitions) {
      const breaker = breakerFor(partition);
      if (!breaker.tryAcquire()) {
        for (const b of taken) b.release();
        return undefined;
      }
      taken.push(breaker);
    }
    return taken;
  };

  return {
    charge(descriptors: readonly DescriptorCharge[], callOptions?: ChargeOptions): Promise<ChargeResult> {
      const budgetMs = Math.min(timeoutMs, (callOptions?.deadlineMs ?? Infinity) - clock());
      if (budgetMs <= 0) {
        return Promise.reject(
          new StoreGuardError("timeout", "counter store: the call's deadline has passed"),
        );
      }
      if (inFlight >= maxInFlight) {
        return Promise.reject(
          new StoreGuardError("overloaded", `counter store: ${inFlight} charges in flight, shedding`),
        );
      }
      const taken = acquire(descriptors);
      if (taken === undefined) {
        return Promise.reject(
          new StoreGuardError("circuit_open", "counter store: circuit open after repeated failures"),
        );
      }
      inFlight++;
      // Outcomes are recorded when the store settles, not when this call stops waiting: the store's
      // own command timeout equals `timeoutMs`, so a slow store is still seen as failing.
      const pending = Promise.resolve(store.charge(descriptors, callOptions)).then(
        (result) => {
          inFlight--;
          for (const b of taken) b.recordSuccess();
          return result;
        },
        (error: unknown) => {
          inFlight--;
          const reachable = error instanceof StoreError && !error.transient;
          for (const b of taken) {
            if (reachable) b.recordSuccess();
            else b.recordFailure();
          }
          throw error;
        },
      );
      return withTimeout(pending, budgetMs, "counter store: no answer in time");
    },
    ping() {
      return withTimeout(store.ping(), timeoutMs, "counter store: no answer to ping in time");
    },
    close() {
      return store.close();
    },
    openCircuits() {
      let open = 0;
      for (const breaker of breakers.values()) if (breaker.state() !== "closed") open++;
      return open;
    },
  };
}

/**
 * Rejects with a timeout unless `promise` settles within `ms`. The rejection waits for setImmediate,
 * which runs after the event loop's I/O phase: when the loop was blocked past the deadline, a reply
 * that arrived meanwhile is read first and wins, so a busy process does not mistake its own lag for a
 * slow store. (The store's own command timeout is longer, a backstop, for the same reason.)
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => setImmediate(() => reject(new StoreGuardError("timeout", message))), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
