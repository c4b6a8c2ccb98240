import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { BreakerState } from "../store/circuit-breaker.ts";

/**
 * Reports the circuit changes of a guarded store (the counter store's or the lease store's): the
 * open-circuits gauge for that store at every change, and in the log the edges only, a warning when
 * a node's circuit opens and an info line when it closes. Open ⇄ half-open flips every probe period
 * during an outage, so those are not news. `openCircuits` is read when a change happens.
 */
export function circuitChangeReport(
  { logger, metrics }: { readonly logger: Logger; readonly metrics: Metrics },
  store: "counter" | "lease",
  openCircuits: () => number,
) {
  return (partition: string, from: BreakerState, to: BreakerState): void => {
    metrics.setStoreOpenCircuits(store, openCircuits());
    if (to === "open" && from === "closed") {
      logger.warn({ partition }, `${store} store circuit opened: answering per the failure policy`);
    } else if (to === "closed") {
      logger.info({ partition }, `${store} store circuit closed: deciding with the store again`);
    }
  };
}
