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
 * - an info line for a node that refuses to tell (managed services disable CONFIG); it is not
 *   counted.
 * A node that cannot be asked (down, timed out) changes nothing: it is counted as last read, so an
 * outage neither logs nor clears the gauge (the store's own health says it is down).
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
    let risky = 0;
    for (const reading of readings) {
      const before = known.get(reading.node);
      if (!reading.ok && !reading.answered) {
        if (before?.risky === true) risky++;
        continue;
      }
      const now = {
        state: reading.ok ? `${reading.maxmemoryBytes} ${reading.policy}` : "unread",
        risky: reading.ok && mayEvict(reading),
      };
      if (now.risky) risky++;
      if (before?.state === now.state) continue;
      known.set(reading.node, now);
      logChange(logger, reading, before?.risky === true);
    }
    metrics.setStoreEvictingNodes(risky);
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
