import type { Clock } from "../clock.ts";
import { type CounterStoreSettings, redisTarget } from "./create-counter-store.ts";
import type { LeaseStore } from "./lease-store.ts";
import { MemoryLeaseStore } from "./memory-lease-store.ts";
import type { RedisConnectionOptions } from "./redis-connection.ts";
import { RedisLeaseStore } from "./redis-lease-store.ts";

/**
 * Picks the lease backend from the same settings as the counters: leases live where the counters
 * do (same Redis, same TLS CA), so every instance sharing the counters shares the concurrency
 * limits too. Without Redis they live in this process (one instance only).
 */
export function createLeaseStore(
  settings: CounterStoreSettings,
  clock: Clock,
  connection: RedisConnectionOptions = {},
): LeaseStore {
  const target = redisTarget(settings);
  if (target === undefined) return new MemoryLeaseStore({ clock });
  return new RedisLeaseStore({ ...target, ...connection, tlsCa: settings.redisTlsCa ?? connection.tlsCa });
}
