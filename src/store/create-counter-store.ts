import type { Clock } from "../clock.ts";
import type { CounterStore } from "./counter-store.ts";
import { MemoryCounterStore, type MemoryCounterStoreOptions } from "./memory-counter-store.ts";
import type { RedisConnectionOptions } from "./redis-connection.ts";
import { RedisCounterStore } from "./redis-counter-store.ts";

export interface CounterStoreSettings {
  /** `redis://` or `rediss://` URL of a single Redis, credentials included. */
  readonly redisUrl?: string | undefined;
  /** Seed nodes of a Redis Cluster (`host:port` or URLs); wins over redisUrl when both are set. */
  readonly redisCluster?: readonly string[] | undefined;
  /** The memory store's bound and eviction report, when no Redis is set. */
  readonly memory?: Omit<MemoryCounterStoreOptions, "clock"> | undefined;
}

/**
 * Picks the backend from settings: a Redis Cluster, a single Redis, or else this process's memory
 * (counters then are per instance and lost on restart). The clock only drives the memory store:
 * the Redis stores use the server's TIME.
 */
export function createCounterStore(
  settings: CounterStoreSettings,
  clock: Clock,
  connection: RedisConnectionOptions = {},
): CounterStore {
  if (settings.redisCluster !== undefined && settings.redisCluster.length > 0) {
    return new RedisCounterStore({ clusterNodes: settings.redisCluster, ...connection });
  }
  if (settings.redisUrl !== undefined && settings.redisUrl !== "") {
    return new RedisCounterStore({ url: settings.redisUrl, ...connection });
  }
  return new MemoryCounterStore({ ...settings.memory, clock });
}
