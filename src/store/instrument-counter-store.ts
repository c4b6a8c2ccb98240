import type { ChargeResult, CounterStore } from "./counter-store.ts";

/** What an instrumented store reports; the composition root turns it into metrics and logs. */
export interface CounterStoreObserver {
  /** One charge finished after `seconds`; `error` is what it rejected with, if it did. */
  chargeSettled(seconds: number, error: unknown): void;
}

/** Monotonic time in milliseconds (performance.now), injectable for tests. */
export type MonotonicClock = () => number;

/**
 * Wraps a CounterStore so every charge is timed and every failure reported, without the backends
 * knowing about metrics. Results and errors pass through unchanged: the limiter and the gRPC edge
 * see exactly what the wrapped store answered.
 */
export function instrumentCounterStore(
  store: CounterStore,
  observer: CounterStoreObserver,
  now: MonotonicClock = () => performance.now(),
): CounterStore {
  return {
    charge(descriptors) {
      const started = now();
      const settled = (error: unknown) => observer.chargeSettled((now() - started) / 1000, error);
      let charged: ChargeResult | Promise<ChargeResult>;
      try {
        charged = store.charge(descriptors);
      } catch (error: unknown) {
        settled(error);
        throw error;
      }
      if (!(charged instanceof Promise)) {
        settled(undefined);
        return charged;
      }
      return charged.then(
        (result) => {
          settled(undefined);
          return result;
        },
        (error: unknown) => {
          settled(error);
          throw error;
        },
      );
    },
    // Peeks are not charges: they stay out of the charge latency and error figures.
    peek: (descriptors, options) => store.peek(descriptors, options),
    addHits: (hits) => store.addHits(hits),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
