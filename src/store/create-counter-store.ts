import type { Clock } from "../clock.ts";
import type { CounterStore } from "./counter-store.ts";
import { MemoryCounterStore, type MemoryCounterStoreOptions } from "./memory-counter-store.ts";
import type { RedisTarget } from "./redis-client.ts";
import type { RedisConnectionOptions } from "./redis-connection.ts";
import { RedisCounterStore } from "./redis-counter-store.ts";

export interface CounterStoreSettings {
  /** `redis://` or `rediss://` URL of a single Redis, credentials included. */
  readonly redisUrl?: string | undefined;
  /** Seed nodes of a Redis Cluster (`host:port` or URLs); wins over the others when several are set. */
  readonly redisCluster?: readonly string[] | undefined;
  /** Sentinels (`host:port` or URLs) and the name of the master they watch; wins over redisUrl. */
  readonly redisSentinel?:
    | {
        readonly nodes: readonly string[];
        readonly masterName: string;
        readonly masterPassword?: string | undefined;
      }
    | undefined;
  /** CA bundle (PEM) a TLS Redis's certificate must chain to, for every connection to the store. */
  readonly redisTlsCa?: Buffer | undefined;
  /** The memory store's bound and eviction report, when no Redis is set. */
  readonly memory?: Omit<MemoryCounterStoreOptions, "clock"> | undefined;
}

/** The settings that say which Redis, if any, holds the counters. */
type RedisChoice = Pick<CounterStoreSettings, "redisUrl" | "redisCluster" | "redisSentinel">;

/**
 * Picks the backend from settings: a Redis Cluster, a master behind Sentinel, a single Redis, or
 * else this process's memory (counters then are per instance and lost on restart). The clock only
 * drives the memory store: the Redis stores use the server's TIME.
 */
export function createCounterStore(
  settings: CounterStoreSettings,
  clock: Clock,
  connection: RedisConnectionOptions = {},
): CounterStore {
  const target = redisTarget(settings);
  if (target === undefined) return new MemoryCounterStore({ ...settings.memory, clock });
  return new RedisCounterStore({ ...target, ...connection, tlsCa: settings.redisTlsCa ?? connection.tlsCa });
}

/** The Redis the settings name, or undefined for the memory stores. Shared with createLeaseStore. */
export function redisTarget(settings: RedisChoice): RedisTarget | undefined {
  const { redisCluster, redisSentinel, redisUrl } = settings;
  if (redisCluster !== undefined && redisCluster.length > 0) return { clusterNodes: redisCluster };
  if (redisSentinel !== undefined && redisSentinel.nodes.length > 0) {
    return {
      sentinels: redisSentinel.nodes,
      masterName: redisSentinel.masterName,
      masterPassword: redisSentinel.masterPassword,
    };
  }
  if (redisUrl !== undefined && redisUrl !== "") return { url: redisUrl };
  return undefined;
}

/** How the settings keep counters, for logs: `redis-cluster`, `redis-sentinel`, `redis` or `memory`. */
export function storeKind(settings: RedisChoice): string {
  const target = redisTarget(settings);
  if (target === undefined) return "memory";
  if ("clusterNodes" in target) return "redis-cluster";
  return "sentinels" in target ? "redis-sentinel" : "redis";
}
