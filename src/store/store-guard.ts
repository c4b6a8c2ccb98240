import type { Clock } from "../clock.ts";
import { type BreakerState, type CircuitBreaker, createCircuitBreaker } from "./circuit-breaker.ts";
import { StoreError } from "./counter-store.ts";

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

/** The protection every remote store call gets, counters and leases alike. */
export interface StoreGuardSettings {
  /** Longest wait for one call, in ms; a call's own deadline can shorten it. */
  readonly timeoutMs: number;
  /** Calls sent and not yet settled; beyond this, calls are shed instead of queued. */
  readonly maxInFlight: number;
  /** Consecutive transient failures that open a partition's circuit. Default 5. */
  readonly failureThreshold?: number;
  /** How long an open circuit waits before one probe, in ms. Default 250. */
  readonly openMs?: number;
  readonly clock: Clock;
  readonly onCircuitChange?: (partition: string, from: BreakerState, to: BreakerState) => void;
}

export interface StoreGuard {
  /**
   * Runs `invoke` unless the deadline has passed, `maxInFlight` calls are outstanding or a
   * partition's circuit refuses; each refusal is a StoreGuardError. Waits at most the budget.
   */
  call<T>(
    partitions: Iterable<string>,
    deadlineMs: number | undefined,
    invoke: () => T | Promise<T>,
    timeoutMessage: string,
  ): Promise<T>;
  /** Partitions whose circuit is not closed (for the metrics gauge). */
  openCircuits(): number;
}

const DEFAULT_FAILURE_THRESHOLD = 5;
const DEFAULT_OPEN_MS = 250;

/**
 * The admission shared by guardCounterStore and guardLeaseStore: a per-call budget, a bound on
 * calls in flight, and a circuit breaker per partition (Redis node). `name` starts its messages.
 */
export function createStoreGuard(name: string, settings: StoreGuardSettings): StoreGuard {
  const { timeoutMs, maxInFlight, clock } = settings;
  const breakers = new Map<string, CircuitBreaker>();
  let inFlight = 0;

  const breakerFor = (partition: string): CircuitBreaker => {
    let breaker = breakers.get(partition);
    if (breaker === undefined) {
      breaker = createCircuitBreaker({
        failureThreshold: settings.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD,
        openMs: settings.openMs ?? DEFAULT_OPEN_MS,
        clock,
        onStateChange: (from, to) => settings.onCircuitChange?.(partition, from, to),
      });
      breakers.set(partition, breaker);
    }
    return breaker;
  };

  /** Every partition of the call lets it through, or none keeps a probe slot it took. */
  const acquire = (partitions: Iterable<string>): CircuitBreaker[] | undefined => {
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
    call(partitions, deadlineMs, invoke, timeoutMessage) {
      const budgetMs = Math.min(timeoutMs, (deadlineMs ?? Infinity) - clock());
      if (budgetMs <= 0) {
        return Promise.reject(new StoreGuardError("timeout", `${name}: the call's deadline has passed`));
      }
      if (inFlight >= maxInFlight) {
        return Promise.reject(
          new StoreGuardError("overloaded", `${name}: ${inFlight} calls in flight, shedding`),
        );
      }
      const taken = acquire(partitions);
      if (taken === undefined) {
        return Promise.reject(
          new StoreGuardError("circuit_open", `${name}: circuit open after repeated failures`),
        );
      }
      inFlight++;
      // Outcomes are recorded when the store settles, not when this call stops waiting: the store's
      // own command timeout is a backstop past `timeoutMs`, so a slow store is still seen as failing.
      const pending = Promise.resolve(invoke()).then(
        (result) => {
          inFlight--;
          for (const b of taken) b.recordSuccess();
          return result;
        },
        (error: unknown) => {
          inFlight--;
          // An error reply (a script error, WRONGTYPE) means the store was reachable.
          const reachable = error instanceof StoreError && !error.transient;
          for (const b of taken) {
            if (reachable) b.recordSuccess();
            else b.recordFailure();
          }
          throw error;
        },
      );
      return withTimeout(pending, budgetMs, timeoutMessage);
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
