import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPolicies } from "../../src/policy/load-policies.ts";
import { clusterSlot } from "../../src/store/cluster-slot.ts";
import { counterKey } from "../../src/store/counter-key.ts";
import { beginSlotMove, moveSlot, slotsOf } from "../support/cluster-admin.ts";
import { type RedisClusterServers, type RedisServer, startRedisCluster } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { callOutcome } from "../support/steady-load.ts";

const POLICIES = "test/fixtures/reliability";
const EXACT = "test/fixtures/exactness/exact.yaml";

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
      ...[
        "--policy",
        POLICIES,
        "--policy",
        EXACT,
        "--redis-cluster",
        cluster.nodes.join(","),
        "--workers",
        "1",
      ],
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
    const { slot, source, target } = await placeOf(POLICIES, "rel-default", { key: "strict", value });

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
  it("answers every call of concurrent waves exactly while a counter's slot moves under them", async () => {
    // 10 tenants, 100 an hour each (exact.yaml); 15 waves of 10 calls per tenant, all in flight at
    // once, so each wave's charges share event-loop turns and go out batched per master. The slot
    // of the first tenant's counter moves to another master after the third wave.
    const prefix = `waves-${process.pid}-${Date.now()}`;
    const tenants = Array.from({ length: 10 }, (_, t) => `${prefix}-${t}`);
    const { slot, source, target } = await placeOf(EXACT, "exact", {
      key: "tenant",
      value: tenants[0] as string,
    });

    const outcomes = new Map<string, string[]>(tenants.map((t) => [t, []]));
    let moved: Promise<void> | undefined;
    for (let wave = 0; wave < 15; wave++) {
      if (wave === 3) moved = moveSlot(slot, source, target, cluster.servers);
      const calls = tenants.flatMap((tenant) =>
        Array.from({ length: 10 }, async () => {
          const request = { domain: "exact", descriptors: [{ entries: [{ key: "tenant", value: tenant }] }] };
          const outcome = await client.shouldRateLimit(request, { timeoutMs: 10_000 }).then(
            (reply) => reply.overall_code,
            (error: Error) => `error: ${error.message}`,
          );
          outcomes.get(tenant)?.push(outcome);
        }),
      );
      await Promise.all(calls);
    }
    await moved;
    expect((await slotsOf(target))(slot)).toBe(true);
    for (const tenant of tenants) {
      const seen = outcomes.get(tenant) ?? [];
      expect(seen.filter((o) => o !== "OK" && o !== "OVER_LIMIT")).toEqual([]);
      expect(seen.filter((o) => o === "OK").length).toBe(100);
      expect(seen.filter((o) => o === "OVER_LIMIT").length).toBe(50);
    }
  });

  it("never explains a counter whose slot is migrating with a count it does not have", async () => {
    // 4 per minute; two calls are counted before the migration starts. While the slot is half-moved
    // (IMPORTING on the target, MIGRATING on the source, the keys not moved yet) the target would read
    // no keys for it: /explain must answer with the two counted calls or not at all (503), never 0.
    const value = `explain-${process.pid}-${Date.now()}`;
    const strict = { domain: "rel-default", descriptors: [{ entries: [{ key: "strict", value }] }] };
    await expect.poll(() => callOutcome(client, strict, 2_000), { timeout: 10_000 }).toBe("OK+headers");
    expect(await callOutcome(client, strict, 2_000)).toBe("OK+headers");
    const { slot, source, target } = await placeOf(POLICIES, "rel-default", { key: "strict", value });

    const explainCurrent = async (): Promise<number | string> => {
      const response = await fetch(`${sluice.adminUrl}/explain`, {
        method: "POST",
        body: JSON.stringify(strict),
      });
      if (response.status !== 200) return response.status;
      const body = (await response.json()) as { descriptors: { windows: { current: number }[] }[] };
      return body.descriptors[0]?.windows[0]?.current ?? "no window";
    };
    const finish = await beginSlotMove(slot, source, target);
    const during = [await explainCurrent(), await explainCurrent()];
    await finish(cluster.servers);
    expect((await slotsOf(target))(slot)).toBe(true);
    for (const answer of during) expect([2, 503]).toContain(answer);
    expect(await explainCurrent()).toBe(2);
  });

  /** The Cluster slot of the counter one descriptor entry charges, the master serving it, and another. */
  async function placeOf(policy: string, domain: string, entry: { key: string; value: string }) {
    const loaded = await loadPolicies([policy]);
    const rule = loaded.ok ? loaded.table.match(domain, [entry]) : undefined;
    if (rule === undefined) throw new Error(`no rule for ${entry.key} in ${policy}`);
    const slot = clusterSlot(counterKey(rule.counterId));
    for (const source of cluster.servers) {
      if (!(await slotsOf(source))(slot)) continue;
      return { slot, source, target: cluster.servers.find((s) => s !== source) as RedisServer };
    }
    throw new Error(`no master serves slot ${slot}`);
  }
});
