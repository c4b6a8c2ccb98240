import { describe, expect, it } from "vitest";
import { createCounterStore } from "./create-counter-store.ts";
import { MemoryCounterStore } from "./memory-counter-store.ts";
import { RedisCounterStore } from "./redis-counter-store.ts";

const clock = () => 0;

describe("createCounterStore", () => {
  it("keeps counters in memory when no Redis is configured", async () => {
    const store = createCounterStore({}, clock);
    expect(store).toBeInstanceOf(MemoryCounterStore);
    await store.close();
    const blank = createCounterStore({ redisUrl: "", redisCluster: [] }, clock);
    expect(blank).toBeInstanceOf(MemoryCounterStore);
    await blank.close();
  });

  it("uses Redis for a URL or cluster nodes (connecting lazily fails nothing here)", async () => {
    // Port 1 on loopback refuses connections; the store must not throw while constructing.
    const single = createCounterStore({ redisUrl: "redis://127.0.0.1:1" }, clock, { connectTimeoutMs: 50 });
    const cluster = createCounterStore({ redisCluster: ["127.0.0.1:1"] }, clock, { connectTimeoutMs: 50 });
    expect(single).toBeInstanceOf(RedisCounterStore);
    expect(cluster).toBeInstanceOf(RedisCounterStore);
    await expect(single.ping()).rejects.toMatchObject({ name: "StoreError", transient: true });
    await Promise.all([single.close(), cluster.close()]);
  });
});
