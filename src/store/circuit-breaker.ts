import type { Clock } from "../clock.ts";

/**
 * `closed`: calls go to the store. `open`: the store failed repeatedly; calls are answered without
 * it. `half-open`: the open period is over and one call, the probe, is let through to find out
 * whether the store is back.
 */
export type BreakerState = "closed" | "open" | "half-open";

export interface CircuitBreakerOptions {
  /** Consecutive transient failures that open the circuit. */
  readonly failureThreshold: number;
  /** How long the circuit stays open before a probe is let through, in ms. */
  readonly openMs: number;
  readonly clock: Clock;
  /** Every state change, in order. */
  readonly onStateChange?: (from: BreakerState, to: BreakerState) => void;
}

export interface CircuitBreaker {
  /** The state as of now: an open circuit whose period has passed reads as half-open. */
  state(): BreakerState;
  /**
   * Whether a call may go to the store now. In half-open only one call (the probe) is let through
   * until its outcome is recorded; the caller must then record that outcome.
   */
  tryAcquire(): boolean;
  /** A call let through did not go to the store after all: frees the probe if it was one. */
  release(): void;
  /** The store answered (an error reply counts too: the store was reachable). */
  recordSuccess(): void;
  /** The store could not be reached or did not answer in time. */
  recordFailure(): void;
}

/**
 * A circuit breaker over one store (or one Redis node): a pure state machine driven by recorded
 * outcomes and an injected clock, so every transition is tested without sleeping.
 *
 * Why: a dead Redis fails fast on its own (the connection is down), but a paused or overloaded one
 * makes every call wait its full timeout. Opening after a few consecutive failures answers those
 * calls at once, and one probe per period finds the store again; with a short period normal
 * decisions resume soon after it is back.
 */
export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  const { failureThreshold, openMs, clock, onStateChange } = options;
  let state: BreakerState = "closed";
  let failures = 0;
  let openedAt = 0;
  let probing = false;

  const moveTo = (next: BreakerState) => {
    if (next === state) return;
    const from = state;
    state = next;
    onStateChange?.(from, next);
  };
  const open = () => {
    openedAt = clock();
    probing = false;
    moveTo("open");
  };
  const current = (): BreakerState => {
    if (state === "open" && clock() - openedAt >= openMs) moveTo("half-open");
    return state;
  };

  return {
    state: current,
    tryAcquire() {
      switch (current()) {
        case "closed":
          return true;
        case "open":
          return false;
        case "half-open":
          if (probing) return false;
          probing = true;
          return true;
      }
    },
    release() {
      probing = false;
    },
    recordSuccess() {
      failures = 0;
      probing = false;
      moveTo("closed");
    },
    recordFailure() {
      // A failure from a call let through before the circuit opened changes nothing more.
      if (state === "open") return;
      if (state === "half-open") return open();
      failures++;
      if (failures >= failureThreshold) {
        failures = 0;
        open();
      }
    },
  };
}
