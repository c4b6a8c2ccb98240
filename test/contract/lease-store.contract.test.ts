import { afterAll, beforeAll, describe } from "vitest";
import { MemoryLeaseStore } from "../../src/store/memory-lease-store.ts";
import { RedisLeaseStore } from "../../src/store/redis-lease-store.ts";
import {
  type RedisClusterServers,
  type RedisServer,
  startRedis,
  startRedisCluster,
} from "../support/redis-server.ts";
import { leaseStoreContract } from "./lease-store.contract.ts";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let single: RedisServer;
let cluster: RedisClusterServers;
beforeAll(async () => {
  [single, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
});
afterAll(async () => {
  await Promise.all([single?.stop(), cluster?.stop()]);
});

describe("MemoryLeaseStore", () => {
  leaseStoreContract(async () => {
    let now = 1_700_006_400_000;
    const store = new MemoryLeaseStore({ clock: () => now });
    return {
      store,
      peer: store,
      wait: async (ms) => {
        now += ms;
      },
      now: () => now,
      close: () => store.close(),
    };
  });
});

describe("RedisLeaseStore on a single Redis, two instances", () => {
  leaseStoreContract(async () => {
    const store = new RedisLeaseStore({ url: single.url });
    const peer = new RedisLeaseStore({ url: single.url });
    return {
      store,
      peer,
      wait: sleep,
      now: Date.now,
      close: async () => void (await Promise.all([store.close(), peer.close()])),
    };
  });
});

describe("RedisLeaseStore on a 3-node Redis Cluster, two instances", () => {
  leaseStoreContract(async () => {
    const store = new RedisLeaseStore({ clusterNodes: cluster.nodes });
    const peer = new RedisLeaseStore({ clusterNodes: cluster.nodes });
    return {
      store,
      peer,
      wait: sleep,
      now: Date.now,
      close: async () => void (await Promise.all([store.close(), peer.close()])),
    };
  });
});
