import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { type EvictionReading, mayEvict } from "../store/redis-eviction.ts";

/** How often the Redis nodes' eviction settings are read again, in ms, besides each return of the store. */
const RECHECK_MS = 60_000;

export interface EvictionWatch {
  /** Reads the settings now (the store came back: a failover or a restart may have changed them). */
  check(): void;
  stop(): void;
}

/**
 * Watches whether the Redis nodes holding counters may evict them (redis-eviction.ts, mayEvict):
 * the service cannot keep a limit whose counter Redis deletes, so the operator is told by node, at
 * once, rather than finding out from over-admitted calls. Each reading sets
 * `sluice_store_evicting_nodes`; a node is logged when what is known of it changes (first seen,
 * its settings changed, or they became unreadable), so a steady state logs once:
 * - a warning for a node that may evict, naming its bound and policy;
 * - an info line for a node that no longer may, after a warning;
 * - an info line for a node whose settings cannot be read (managed services disable CONFIG); it is
 *   not counted.
 * Advice only: the service serves either way. Readings never reject (readEvictionSettings).
 */
export function watchRedisEviction(
  read: () => Promise<EvictionReading[]>,
  logger: Logger,
  metrics: Pick<Metrics, "setStoreEvictingNodes">,
  intervalMs = RECHECK_MS,
): EvictionWatch {
  // Per node: its settings as last logged, and whether they allowed eviction.
  const known = new Map<string, { readonly state: string; readonly risky: boolean }>();
  let stopped = false;
  const report = (readings: EvictionReading[]) => {
    if (stopped) return;
    metrics.setStoreEvictingNodes(readings.filter((r) => r.ok && mayEvict(r)).length);
    for (const reading of readings) {
      const state = reading.ok ? `${reading.maxmemoryBytes} ${reading.policy}` : "unread";
      const before = known.get(reading.node);
      if (before?.state === state) continue;
      known.set(reading.node, { state, risky: reading.ok && mayEvict(reading) });
      logChange(logger, reading, before?.risky === true);
    }
  };
  const check = () => void read().then(report);
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return {
    check,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

function logChange(logger: Logger, reading: EvictionReading, wasRisky: boolean): void {
  if (!reading.ok) {
    logger.info(
      { node: reading.node, reason: reading.reason, hint: "make sure its maxmemory-policy is noeviction" },
      "Redis eviction policy not checked",
    );
    return;
  }
  const fields = {
    node: reading.node,
    maxmemoryBytes: reading.maxmemoryBytes,
    maxmemoryPolicy: reading.policy,
  };
  if (mayEvict(reading)) {
    logger.warn(
      {
        ...fields,
        hint:
          "an evicted counter starts again from 0 and admits calls beyond its limit; set maxmemory-policy " +
          "noeviction (a full Redis then refuses writes and the failure policy answers) or remove maxmemory",
      },
      "Redis may evict counters",
    );
  } else if (wasRisky) {
    logger.info(fields, "Redis no longer evicts counters");
  }
}
