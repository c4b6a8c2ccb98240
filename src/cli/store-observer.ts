import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { transientStoreError } from "../store/counter-store.ts";
import type { CounterStoreObserver } from "../store/instrument-counter-store.ts";

/** The `kind` label of a store failure; the store contract says it rejects with StoreError only. */
export function storeErrorKind(error: unknown): "transient" | "permanent" {
  return transientStoreError(error) === undefined ? "permanent" : "transient";
}

/**
 * Feeds charge timings and failures to the metrics, and logs store trouble once per episode: the
 * first failure after a success logs a warning, the first success after failures logs recovery.
 * While Redis is down every call fails, so a line per failure would flood the log at call rate.
 */
export function createStoreObserver(metrics: Metrics, logger: Logger): CounterStoreObserver {
  let failuresInEpisode = 0;
  return {
    chargeSettled(seconds, error) {
      metrics.observeStoreCharge(seconds);
      if (error === undefined) {
        if (failuresInEpisode > 0) {
          logger.info({ failedCharges: failuresInEpisode }, "counter store charges succeed again");
          failuresInEpisode = 0;
        }
        return;
      }
      const kind = storeErrorKind(error);
      metrics.recordStoreError(kind);
      if (failuresInEpisode++ === 0) {
        const message = error instanceof Error ? error.message : String(error);
        logger.warn({ kind, err: message }, "counter store charge failed");
      }
    },
  };
}
