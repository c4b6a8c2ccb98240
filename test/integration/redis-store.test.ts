import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { clusterSlot } from "../../src/store/cluster-slot.ts";
import { counterKey, SLOT_TTL_MARGIN_MS } from "../../src/store/counter-key.ts";
import { type ChargeResult, type DescriptorCharge, StoreError } from "../../src/store/counter-store.ts";
import { CHARGE_MANY_SCRIPT, CHARGE_SCRIPT } from "../../src/store/redis-charge-script.ts";
import { RedisCounterStore } from "../../src/store/redis-counter-store.ts";
import { moveSlot, redisCli, slotsOf } from "../support/cluster-admin.ts";
import {
  type RedisClusterServers,
  type RedisServer,
  startRedis,
  startRedisCluster,
} from "../support/redis-server.ts";

const HOUR = 3_600_000;
const SLOT_KEY_SHAPE = /^sluice:\{[A-Za-z0-9_-]{22}\}:\d+:\d+$/;

function descriptor(id: string, overrides: Partial<DescriptorCharge> = {}): DescriptorCharge {
  return {
    counterKey: counterKey(id),
    mode: "enforced",
    cost: 1,
    countRejected: false,
    windows: [{ windowMs: HOUR, limit: 100 }],
    ...overrides,
  };
}

/** Settles with the outcome, or fails the test if the promise hangs (a hang detector, not a timing). */
async function settled<T>(promise: Promise<T>, what: string): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle`)), 15_000);
  });
  try {
    return await Promise.race([
      Promise.allSettled([promise]).then(([r]) => r as PromiseSettledResult<T>),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls `attempt` until it resolves, at most `tries` times, `pauseMs` apart. */
async function eventually<T>(attempt: () => Promise<T>, tries = 200, pauseMs = 100): Promise<T> {
  let last: unknown;
  for (let n = 0; n < tries; n++) {
    try {
      return await attempt();
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
  throw last;
}

/** Charges the request `total` times at once, spread round-robin over the stores. */
async function burst(stores: RedisCounterStore[], request: DescriptorCharge[], total: number) {
  return Promise.all(
    Array.from({ length: total }, (_, n) => (stores[n % stores.length] as RedisCounterStore).charge(request)),
  );
}

function inOneHourSlot(results: ChargeResult[]): boolean {
  return new Set(results.map((r) => Math.floor(r.nowMs / HOUR))).size === 1;
}

describe("RedisCounterStore on a single Redis", () => {
  let server: RedisServer;
  let store: RedisCounterStore;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    store = new RedisCounterStore({ url: server.url });
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    await store?.close();
    redis?.disconnect();
    await server?.stop();
  });

  it("expires slot keys between W and 2W plus the margin", async () => {
    for (const windowMs of [1000, 60_000, HOUR]) {
      const d = descriptor(`ttl:${randomUUID()}`, { windows: [{ windowMs, limit: 5 }] });
      const result = await store.charge([d]);
      const key = `${d.counterKey}:${windowMs}:${Math.floor(result.nowMs / windowMs)}`;
      expect(await redis.get(key)).toBe("1");
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(windowMs);
      expect(ttl).toBeLessThanOrEqual(2 * windowMs + SLOT_TTL_MARGIN_MS);
    }
  });

  it("writes nothing for a check of cost 0 or a refused request that does not count", async () => {
    const d = descriptor(`quiet:${randomUUID()}`, { windows: [{ windowMs: HOUR, limit: 0 }] });
    await store.charge([{ ...d, cost: 0 }]);
    await store.charge([d]);
    expect(await redis.keys(`${d.counterKey}*`)).toEqual([]);
  });

  it("keeps raw descriptor values out of every key", async () => {
    const secret = `tenant-secret-${randomUUID()}`;
    const id = JSON.stringify(["api", ["api_key", secret], ["path", "/v1/{orders}\n"]]);
    await store.charge([descriptor(id, { windows: [{ windowMs: 60_000, limit: 5 }] })]);
    const keys = await redis.keys("*");
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatch(SLOT_KEY_SHAPE);
      expect(key).not.toContain("secret");
    }
  });

  it("admits exactly the limit from 2,000 concurrent charges over 3 connections", async () => {
    const stores = [
      store,
      new RedisCounterStore({ url: server.url }),
      new RedisCounterStore({ url: server.url }),
    ];
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const d = descriptor(`burst:${randomUUID()}`);
        const results = await burst(stores, [d], 2000);
        if (!inOneHourSlot(results)) continue;
        expect(results.filter((r) => r.admitted).length).toBe(100);
        expect(Math.max(...results.map((r) => r.counts[0]?.[0]?.current ?? 0))).toBe(100);
        return;
      }
      throw new Error("both bursts crossed an hour boundary");
    } finally {
      await Promise.all(stores.slice(1).map((s) => s.close()));
    }
  });

  it("refuses a malformed shape table by name, and in a batch fails only the request naming no shape", async () => {
    const base = counterKey(`shape:${randomUUID()}`);
    const shape = (fields: string[]) => ["1", "enforced", ...fields];
    for (const [args, problem] of [
      [[...shape(["x", "1", "1", "60000", "10"]), "1"], "malformed descriptor shape 1"],
      [[...shape(["1", "1", "1", "0", "10"]), "1"], "malformed window length 0"],
      [[...shape(["1", "1", "1", "60000", "y"]), "1"], "malformed limit y"],
      [[...shape(["1", "1", "1", "60000", "10"]), "2"], "unknown descriptor shape 2"],
      [["one"], "malformed shape count one"],
    ] as const) {
      await expect(redis.eval(CHARGE_SCRIPT, 1, base, ...args)).rejects.toThrow(problem);
    }
    // In a batch only the request naming no shape fails; the one after it is decided and charged.
    const good = counterKey(`shape:${randomUUID()}`);
    const table = shape(["1", "1", "1", "60000", "10"]);
    const replies = (await redis.eval(
      CHARGE_MANY_SCRIPT,
      2,
      base,
      good,
      ...table,
      "2",
      "1",
      "9",
      "1",
      "1",
    )) as unknown[];
    expect(replies[0]).toBeInstanceOf(Error);
    expect(String(replies[0])).toContain("unknown descriptor shape 9");
    expect(replies[1]).toEqual([expect.any(Number), 1, 1, 0, 1]);
    expect(await redis.keys(`${base}*`)).toEqual([]);
  });

  it("works with a password in the URL", async () => {
    const guarded = await startRedis({ password: "p@ss:w/rd" });
    const authed = new RedisCounterStore({ url: guarded.url });
    try {
      expect(guarded.url).toContain("p%40ss%3Aw%2Frd@");
      expect((await authed.charge([descriptor("auth")])).admitted).toBe(true);
    } finally {
      await authed.close();
      await guarded.stop();
    }
  });
});

describe("RedisCounterStore through a Redis outage", () => {
  let server: RedisServer;
  let store: RedisCounterStore | undefined;
  const states: boolean[] = [];
  afterEach(async () => {
    await store?.close();
    await server?.stop();
  });

  it("fails fast with a transient StoreError while Redis is down and recovers on restart", async () => {
    server = await startRedis();
    const port = server.port;
    store = new RedisCounterStore({
      url: server.url,
      commandTimeoutMs: 500,
      onStateChange: (up) => states.push(up),
    });
    const d = descriptor(`outage:${randomUUID()}`);
    expect((await store.charge([d])).admitted).toBe(true);

    const inFlight = Array.from({ length: 50 }, () => (store as RedisCounterStore).charge([d]));
    await server.stop();
    for (const outcome of await Promise.all(inFlight.map((p) => settled(p, "an in-flight charge")))) {
      if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(StoreError);
    }
    const down = await settled(store.charge([d]), "a charge during the outage");
    expect(down.status).toBe("rejected");
    if (down.status === "rejected") {
      expect(down.reason).toBeInstanceOf(StoreError);
      expect(down.reason.transient).toBe(true);
    }
    await expect(store.ping()).rejects.toMatchObject({ name: "StoreError", transient: true });
    expect(states).toContain(false);

    server = await startRedis({ port });
    const back = await eventually(() => (store as RedisCounterStore).charge([d]));
    // The restarted server is empty: the counter starts over.
    expect(back).toMatchObject({ admitted: true, counts: [[{ current: 1, previous: 0, passed: true }]] });
    expect(states.at(-1)).toBe(true);
  });

  it("times out instead of hanging when Redis stops answering", async () => {
    server = await startRedis();
    store = new RedisCounterStore({ url: server.url, commandTimeoutMs: 300 });
    const d = descriptor(`paused:${randomUUID()}`);
    await store.charge([d]);
    process.kill(server.pid, "SIGSTOP");
    try {
      const stuck = await settled(store.charge([d]), "a charge to a paused Redis");
      expect(stuck.status).toBe("rejected");
      if (stuck.status === "rejected")
        expect(stuck.reason).toMatchObject({ name: "StoreError", transient: true });
    } finally {
      process.kill(server.pid, "SIGCONT");
    }
    expect((await eventually(() => (store as RedisCounterStore).charge([d]))).admitted).toBe(true);
  });
});

describe("RedisCounterStore on a 3-node Redis Cluster", () => {
  let servers: RedisClusterServers;
  let store: RedisCounterStore;
  let cluster: Cluster;
  beforeAll(async () => {
    servers = await startRedisCluster();
    store = new RedisCounterStore({ clusterNodes: servers.nodes });
    cluster = new Cluster(servers.nodes);
  });
  afterAll(async () => {
    await store?.close();
    cluster?.disconnect();
    await servers?.stop();
  });

  it("computes the same hash slots as the servers", async () => {
    for (let n = 0; n < 50; n++) {
      const key = counterKey(`slot:${n}`);
      expect(await cluster.cluster("KEYSLOT", key)).toBe(clusterSlot(key));
    }
  });

  it("refunds tentative charges exactly under concurrency and never over-admits", async () => {
    const stores = [store, new RedisCounterStore({ clusterNodes: servers.nodes })];
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const limited = descriptor(`limited:${randomUUID()}`);
        // Another slot with room for every request: it passes each time, so on refusal its
        // tentative charge must be taken back.
        let roomy = descriptor(`roomy:${randomUUID()}`, { windows: [{ windowMs: HOUR, limit: 10_000 }] });
        while (clusterSlot(roomy.counterKey) === clusterSlot(limited.counterKey)) {
          roomy = descriptor(`roomy:${randomUUID()}`, { windows: [{ windowMs: HOUR, limit: 10_000 }] });
        }
        const results = await burst(stores, [limited, roomy], 2000);
        if (!inOneHourSlot(results)) continue;
        expect(results.filter((r) => r.admitted).length).toBe(100);
        const slot = Math.floor((results[0] as ChargeResult).nowMs / HOUR);
        expect(await cluster.get(`${limited.counterKey}:${HOUR}:${slot}`)).toBe("100");
        expect(await cluster.get(`${roomy.counterKey}:${HOUR}:${slot}`)).toBe("100");
        expect(await cluster.pttl(`${roomy.counterKey}:${HOUR}:${slot}`)).toBeGreaterThan(HOUR);
        return;
      }
      throw new Error("both bursts crossed an hour boundary");
    } finally {
      await stores[1]?.close();
    }
  });

  it("charges one turn's requests in one script call per master, each decided exactly", async () => {
    const calls = () => Promise.all(servers.servers.map((s) => scriptCalls(s)));
    const before = await calls();
    // The second descriptor counts refused calls too, so no refusal needs a refund call.
    const requests = Array.from({ length: 200 }, () => [
      descriptor(`tenant:${randomUUID()}`, { windows: [{ windowMs: HOUR, limit: 1 }] }),
      descriptor(`key:${randomUUID()}`, { countRejected: true }),
    ]);
    // Twice each: the second of every pair is refused by its limit of 1, in the same turn.
    const results = await Promise.all([...requests, ...requests].map((r) => store.charge(r)));
    const after = await calls();
    expect(results.slice(0, 200).every((r) => r.admitted)).toBe(true);
    expect(results.slice(200).some((r) => r.admitted)).toBe(false);
    if (inOneHourSlot(results)) {
      const slot = Math.floor((results[0] as ChargeResult).nowMs / HOUR);
      const [tenant, key] = requests[0] as DescriptorCharge[];
      expect(await cluster.get(`${tenant?.counterKey}:${HOUR}:${slot}`)).toBe("1");
      expect(await cluster.get(`${key?.counterKey}:${HOUR}:${slot}`)).toBe("2");
    }
    // 800 slot groups, 800 script calls without batching; with it, one CHARGE_NODE call per
    // master per 64 requests.
    const charges = after.reduce((n, a, i) => n + a.charges - (before[i]?.charges ?? 0), 0);
    expect(charges).toBeLessThan(30);
  });

  it("resends a batched request whose slot has moved away, counting it once", async () => {
    for (const routedFirst of ["moved", "stayed"] as const) {
      const store = new RedisCounterStore({ clusterNodes: servers.nodes });
      try {
        // Two counters of different slots on one master; the store learns where they live, then
        // one slot moves to another master behind its back.
        const limited = descriptor(`moved:${randomUUID()}`, { windows: [{ windowMs: HOUR, limit: 50 }] });
        const source = await ownerOf(clusterSlot(limited.counterKey));
        let stayed = descriptor(`stayed:${randomUUID()}`, { windows: [{ windowMs: HOUR, limit: 10_000 }] });
        while (
          clusterSlot(stayed.counterKey) === clusterSlot(limited.counterKey) ||
          (await ownerOf(clusterSlot(stayed.counterKey))) !== source
        ) {
          stayed = descriptor(`stayed:${randomUUID()}`, { windows: [{ windowMs: HOUR, limit: 10_000 }] });
        }
        await store.charge([limited]);
        await store.charge([stayed]);
        const target = servers.servers.find((s) => s !== source) as RedisServer;
        await moveSlot(clusterSlot(limited.counterKey), source, target, servers.servers);

        // One turn of 200 requests, alternating; the first one's key routes the batch.
        const order = routedFirst === "moved" ? [limited, stayed] : [stayed, limited];
        const settledAll = await Promise.allSettled(
          Array.from({ length: 200 }, (_, n) => store.charge([order[n % 2] as DescriptorCharge])),
        );
        const failed = settledAll.filter((s) => s.status === "rejected");
        expect(failed.map((f) => String((f as PromiseRejectedResult).reason))).toEqual([]);
        const results = settledAll.map((s) => (s as PromiseFulfilledResult<ChargeResult>).value);
        if (!inOneHourSlot(results)) continue;
        const admittedOf = (d: DescriptorCharge) =>
          results.filter((r, n) => order[n % 2] === d && r.admitted).length;
        expect(admittedOf(limited)).toBe(49);
        expect(admittedOf(stayed)).toBe(100);
        const slot = Math.floor((results[0] as ChargeResult).nowMs / HOUR);
        expect(await cluster.get(`${limited.counterKey}:${HOUR}:${slot}`)).toBe("50");
        expect(await cluster.get(`${stayed.counterKey}:${HOUR}:${slot}`)).toBe("101");
      } finally {
        await store.close();
      }
    }
  });

  async function ownerOf(slot: number): Promise<RedisServer> {
    for (const server of servers.servers) if ((await slotsOf(server))(slot)) return server;
    throw new Error(`no master serves slot ${slot}`);
  }
});

/** EVALSHA and EVAL calls a server has answered so far (INFO commandstats). */
async function scriptCalls(server: RedisServer): Promise<{ charges: number }> {
  const stats = await redisCli(server, "info", "commandstats");
  const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  return { charges: calls("evalsha") + calls("eval") };
}
