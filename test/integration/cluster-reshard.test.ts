import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPolicies } from "../../src/policy/load-policies.ts";
import { clusterSlot } from "../../src/store/cluster-slot.ts";
import { counterKey } from "../../src/store/counter-key.ts";
import { moveSlot, slotsOf } from "../support/cluster-admin.ts";
import { type RedisClusterServers, type RedisServer, startRedisCluster } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { callOutcome } from "../support/steady-load.ts";

const POLICIES = "test/fixtures/reliability";

/**
 * A Cluster reshards under a running Sluice: the slot of a counter moves, with its keys, to another
 * master. ioredis follows the MOVED replies, and the count carries on where it was.
 */
describe("Redis Cluster resharding under sluice serve", () => {
  let cluster: RedisClusterServers;
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    sluice = await startSluice([
      ...["--policy", POLICIES, "--redis-cluster", cluster.nodes.join(","), "--workers", "1"],
      ...["--store-timeout-ms", "200"],
    ]);
    client = createRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    await cluster?.stop();
  });

  it("keeps counting a counter whose slot moved to another master", async () => {
    const value = `reshard-${process.pid}-${Date.now()}`;
    const loaded = await loadPolicies([POLICIES]);
    const rule = loaded.ok ? loaded.table.match("rel-default", [{ key: "strict", value }]) : undefined;
    if (rule === undefined) throw new Error("no strict rule in the fixture policy");
    const slot = clusterSlot(counterKey(rule.counterId));
    const owners = await Promise.all(
      cluster.servers.map(async (s) => ((await slotsOf(s))(slot) ? s : undefined)),
    );
    const source = owners.find((s) => s !== undefined) as RedisServer;
    const target = cluster.servers.find((s) => s !== source) as RedisServer;

    const strict = { domain: "rel-default", descriptors: [{ entries: [{ key: "strict", value }] }] };
    await expect.poll(() => callOutcome(client, strict, 2_000), { timeout: 10_000 }).toBe("OK+headers");
    expect(await callOutcome(client, strict, 2_000)).toBe("OK+headers");

    await moveSlot(slot, source, target, cluster.servers);
    expect((await slotsOf(target))(slot)).toBe(true);

    // 4 per minute: two were counted before the move, two more pass after it, the fifth is refused.
    const after = [];
    for (let i = 0; i < 3; i++) after.push(await callOutcome(client, strict, 2_000));
    expect(after).toEqual(["OK+headers", "OK+headers", "OVER_LIMIT+headers"]);
  });
});
