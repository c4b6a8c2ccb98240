import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterSlot } from "../../src/store/cluster-slot.ts";
import { counterKey } from "../../src/store/counter-key.ts";
import type { CounterStore, DescriptorCharge } from "../../src/store/counter-store.ts";
import { MemoryCounterStore } from "../../src/store/memory-counter-store.ts";
import { RedisCounterStore } from "../../src/store/redis-counter-store.ts";
import {
  type RedisClusterServers,
  type RedisServer,
  startRedis,
  startRedisCluster,
} from "../support/redis-server.ts";
import { counterStoreContract, fresh } from "./counter-store.contract.ts";
import {
  answers,
  requestStream,
  runStream,
  STREAM_WINDOW_MS,
  type StreamOptions,
  sameSlot,
} from "./request-stream.ts";

const run = promisify(execFile);
const T0 = 1_700_006_400_000; // 2023-11-15T00:00Z: every window of the suite starts a slot here
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let single: RedisServer;
let cluster: RedisClusterServers;
beforeAll(async () => {
  [single, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
});
afterAll(async () => {
  await Promise.all([single?.stop(), cluster?.stop()]);
});

function memoryStore(): { store: MemoryCounterStore; wait(ms: number): Promise<void> } {
  let now = T0;
  const store = new MemoryCounterStore({ clock: () => now });
  return {
    store,
    wait: async (ms) => {
      now += ms;
    },
  };
}

describe("MemoryCounterStore", () => {
  counterStoreContract(async () => {
    const { store, wait } = memoryStore();
    return { store, wait, exactTime: true, close: () => store.close() };
  });
});

describe("RedisCounterStore on a single Redis", () => {
  counterStoreContract(async () => {
    const store = new RedisCounterStore({ url: single.url });
    return { store, wait: sleep, exactTime: false, close: () => store.close() };
  });
});

describe("RedisCounterStore on a 3-node Redis Cluster", () => {
  counterStoreContract(async () => {
    const store = new RedisCounterStore({ clusterNodes: cluster.nodes });
    return { store, wait: sleep, exactTime: false, close: () => store.close() };
  });
});

describe("the same requests on every store", () => {
  const stores: Record<string, CounterStore> = {};
  beforeAll(() => {
    stores.memory = memoryStore().store;
    stores.single = new RedisCounterStore({ url: single.url });
    stores.cluster = new RedisCounterStore({ clusterNodes: cluster.nodes });
  });
  afterAll(async () => {
    await Promise.all(Object.values(stores).map((s) => s.close()));
  });

  /** Runs the requests on every store; reruns with fresh counters if an hour boundary interfered. */
  async function onEveryStore(make: (runId: string) => DescriptorCharge[][]) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const requests = make(randomUUID());
      const results = await Promise.all(Object.values(stores).map((s) => runStream(s, requests)));
      if (results.every((r) => sameSlot(r, STREAM_WINDOW_MS))) return { requests, results };
    }
    throw new Error("every attempt crossed an hour boundary");
  }

  it("gives the same admissions and counts for a long mixed stream", async () => {
    const options = (runId: string): StreamOptions => ({ seed: 20231115, requests: 400, counters: 8, runId });
    const { requests, results } = await onEveryStore((runId) => requestStream(options(runId)));
    const [memory, ...redis] = results.map(answers);
    for (const other of redis) expect(other).toEqual(memory);
    // The stream must exercise what it compares: refusals, and requests spanning cluster slots.
    expect(memory?.filter((a) => !a.admitted).length).toBeGreaterThan(50);
    expect(memory?.filter((a) => a.admitted).length).toBeGreaterThan(50);
    const spanning = requests.filter((r) => new Set(r.map((d) => clusterSlot(d.counterKey))).size > 1);
    expect(spanning.length).toBeGreaterThan(100);
  });

  it("answers a stream sent all at once on a single Redis as the memory store answers it one by one", async () => {
    // Sent in one turn, a single Redis takes the stream in CHARGE_MANY batches, in order: each
    // request must be decided exactly as it is alone, after the ones before it.
    for (let attempt = 0; attempt < 3; attempt++) {
      const requests = requestStream({ seed: 20231116, requests: 400, counters: 8, runId: randomUUID() });
      const memory = await runStream(stores.memory as CounterStore, requests);
      const before = await scriptCalls(single.port);
      const together = await Promise.all(requests.map((r) => (stores.single as CounterStore).charge(r)));
      const sent = (await scriptCalls(single.port)) - before;
      if (!sameSlot(together, STREAM_WINDOW_MS)) continue;
      expect(answers(together)).toEqual(answers(memory));
      // 400 requests, at most 64 to a call: far fewer script calls than requests.
      expect(sent).toBeLessThan(20);
      return;
    }
    throw new Error("every attempt crossed an hour boundary");
  });

  it("answers alike whether a request's descriptors share a cluster slot or not", async () => {
    const { results } = await onEveryStore((runId) => {
      const [a, b] = twoKeysInOneSlot(runId);
      const sameSlotPair = [
        fresh({ counterKey: a, windows: [{ windowMs: STREAM_WINDOW_MS, limit: 2 }] }),
        fresh({ counterKey: b, mode: "shadow" }),
      ];
      const elsewhere = [
        fresh({ counterKey: counterKey(`uncounted:${runId}`) }),
        fresh({ counterKey: counterKey(`counted:${runId}`), countRejected: true }),
      ];
      // The enforced descriptor runs out on the third request. The fourth is refused by it in
      // one slot while descriptors in other slots pass: on a cluster the uncounted one is charged
      // tentatively and must be refunded, the countRejected one kept. It names the uncounted
      // counter twice, as Envoy may when two actions produce the same descriptor.
      const mixed = [...sameSlotPair, ...elsewhere, elsewhere[0] as DescriptorCharge];
      return [sameSlotPair, sameSlotPair, sameSlotPair, mixed, elsewhere];
    });
    const [memory, ...redis] = results.map(answers);
    for (const other of redis) expect(other).toEqual(memory);
    expect(memory?.map((a) => a.admitted)).toEqual([true, true, false, false, true]);
  });
});

/** EVALSHA + EVAL calls a Redis has run so far (INFO commandstats). */
async function scriptCalls(port: number): Promise<number> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "info", "commandstats"]);
  const calls = (command: string) =>
    Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(stdout)?.[1] ?? 0);
  return calls("evalsha") + calls("eval");
}

/** Two distinct counter keys hashing to one Cluster slot (birthday search, bounded). */
function twoKeysInOneSlot(runId: string): [string, string] {
  const seen = new Map<number, string>();
  for (let n = 0; n < 100_000; n++) {
    const key = counterKey(`pair:${runId}:${n}`);
    const other = seen.get(clusterSlot(key));
    if (other !== undefined) return [other, key];
    seen.set(clusterSlot(key), key);
  }
  throw new Error("no two keys shared a slot");
}
