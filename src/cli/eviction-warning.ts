import type { Logger } from "../log/logger.ts";
import { type EvictionReading, mayEvict } from "../store/redis-eviction.ts";

/**
 * Warns about each Redis node that may evict counters (redis-eviction.ts, mayEvict): the service
 * cannot keep a limit whose counter Redis deletes, so the operator is told at once, by node, rather
 * than finding out from over-admitted calls. A node whose settings cannot be read (managed services
 * disable CONFIG) is noted at info. Advice only: the service serves either way.
 */
export async function warnIfRedisMayEvict(
  read: () => Promise<EvictionReading[]>,
  logger: Logger,
): Promise<void> {
  for (const reading of await read()) {
    if (!reading.ok) {
      logger.info(
        { node: reading.node, reason: reading.reason, hint: "make sure its maxmemory-policy is noeviction" },
        "Redis eviction policy not checked",
      );
    } else if (mayEvict(reading)) {
      logger.warn(
        {
          node: reading.node,
          maxmemoryBytes: reading.maxmemoryBytes,
          maxmemoryPolicy: reading.policy,
          hint:
            "an evicted counter starts again from 0 and admits calls beyond its limit; set maxmemory-policy " +
            "noeviction (a full Redis then refuses writes and the failure policy answers) or remove maxmemory",
        },
        "Redis may evict counters",
      );
    }
  }
}
