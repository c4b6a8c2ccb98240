import type { Logger } from "../log/logger.ts";
import type { BreakerState } from "../store/circuit-breaker.ts";

/**
 * Logs the edges of a guarded store's circuits (`counter store`, `lease store`): a warning when a
 * node's circuit opens, an info line when it closes. Open ⇄ half-open flips every probe period
 * during an outage, so those are not news.
 */
export function circuitChangeLog(logger: Logger, store: string) {
  return (partition: string, from: BreakerState, to: BreakerState): void => {
    if (to === "open" && from === "closed") {
      logger.warn({ partition }, `${store} circuit opened: answering per the failure policy`);
    } else if (to === "closed") {
      logger.info({ partition }, `${store} circuit closed: deciding with the store again`);
    }
  };
}
