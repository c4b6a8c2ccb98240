import { status } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import {
  type RedisClusterServers,
  type RedisServer,
  startRedis,
  startRedisCluster,
} from "../support/redis-server.ts";
import { createRlsClient } from "../support/rls-client.ts";
import { freeTenant } from "../support/sample-requests.ts";
import { logLines, type SluiceProcess, startSluice } from "../support/sluice-process.ts";

const EVICTING = "Redis may evict counters";

/** Sets a Redis's memory bound and eviction policy at run time, as an operator's config would. */
async function configure(url: string, settings: Record<string, string>): Promise<void> {
  const admin = new Redis(url);
  try {
    for (const [name, value] of Object.entries(settings)) await admin.config("SET", name, value);
  } finally {
    admin.disconnect();
  }
}

/** The service's `sluice_store_evicting_nodes` gauge, as scraped from its admin port. */
async function evictingNodes(sluice: SluiceProcess): Promise<number> {
  const text = await (await fetch(`${sluice.adminUrl}/metrics`)).text();
  const value = /^sluice_store_evicting_nodes (\S+)$/m.exec(text)?.[1];
  return Number(value);
}

/**
 * The service's log lines with this message once the store answers and at least `expected` of them
 * are there (waited for), plus any more that follow within half a second. The check runs right after
 * the first answer, one round trip per node.
 */
async function linesAbout(
  sluice: SluiceProcess,
  message: string,
  expected: number,
): Promise<Record<string, unknown>[]> {
  const lines = () => logLines(sluice).filter((l) => l.msg === message);
  await expect
    .poll(() => logLines(sluice).some((l) => l.msg === "counter store answers"), { timeout: 10_000 })
    .toBe(true);
  await expect.poll(() => lines().length >= expected, { timeout: 10_000 }).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return lines();
}

// A Redis that may evict keys under memory pressure (a maxmemory and any policy but noeviction:
// Sluice's keys all carry a TTL, so volatile-* policies evict them too) silently resets counters,
// and limits then admit beyond what they allow. The service cannot prevent it; it says so at start.
describe("sluice serve on a Redis that may evict its counters", () => {
  let redis: RedisServer | undefined;
  let cluster: RedisClusterServers | undefined;
  let sluice: SluiceProcess | undefined;

  afterEach(async () => {
    await sluice?.stop();
    await redis?.stop();
    await cluster?.stop();
    [sluice, redis, cluster] = [undefined, undefined, undefined];
  });

  it("warns, naming the node and its policy, when maxmemory is set with an evicting policy", async () => {
    redis = await startRedis();
    await configure(redis.url, { maxmemory: "64mb", "maxmemory-policy": "volatile-lru" });
    sluice = await startSluice(["--policy", "deploy/policies", "--redis-url", redis.url]);

    const [warning, ...more] = await linesAbout(sluice, EVICTING, 1);
    expect(more).toEqual([]);
    expect(warning).toMatchObject({
      level: 40,
      node: `127.0.0.1:${redis.port}`,
      maxmemoryPolicy: "volatile-lru",
      maxmemoryBytes: 64 * 1024 * 1024,
    });
    expect(await evictingNodes(sluice)).toBe(1);
    // The service still serves: the warning is advice, not a refusal.
    const client = createRlsClient(sluice.grpcAddress);
    const reply = await client.shouldRateLimit(freeTenant(`evict-${Date.now()}`));
    client.close();
    expect(reply.overall_code).toBe("OK");
  });

  it("says nothing when Redis has no memory bound, or refuses writes when full (noeviction)", async () => {
    redis = await startRedis();
    sluice = await startSluice(["--policy", "deploy/policies", "--redis-url", redis.url]);
    expect(await linesAbout(sluice, EVICTING, 0)).toEqual([]);
    expect(await evictingNodes(sluice)).toBe(0);
    await sluice.stop();

    await configure(redis.url, { maxmemory: "64mb", "maxmemory-policy": "noeviction" });
    sluice = await startSluice(["--policy", "deploy/policies", "--redis-url", redis.url]);
    expect(await linesAbout(sluice, EVICTING, 0)).toEqual([]);
    expect(logLines(sluice).filter((l) => l.level === 40)).toEqual([]);
  });

  it("answers by the failure policy, never uncounted, once a noeviction Redis is full", async () => {
    redis = await startRedis();
    sluice = await startSluice(["--policy", "deploy/policies", "--redis-url", redis.url]);
    const client = createRlsClient(sluice.grpcAddress);
    const call = (tenant: string) =>
      client.shouldRateLimit(freeTenant(tenant)).then(
        (reply) => reply.overall_code,
        (error: { code: number }) => `code ${error.code}`,
      );
    expect(await call(`full-${Date.now()}`)).toBe("OK");
    // A bound below what Redis already uses: every write is refused with OOM from now on.
    await configure(redis.url, { maxmemory: "1", "maxmemory-policy": "noeviction" });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => call(`full-${Date.now()}-${i}`)));
    client.close();
    // The default failure policy is unavailable: Envoy's failure_mode_deny decides, as in an outage.
    expect(answers).toEqual(Array.from({ length: 10 }, () => `code ${status.UNAVAILABLE}`));
  });

  it("names only the Cluster master that may evict", async () => {
    cluster = await startRedisCluster();
    const [risky] = cluster.servers;
    if (risky === undefined) throw new Error("no cluster node");
    await configure(risky.url, { maxmemory: "128mb", "maxmemory-policy": "allkeys-lru" });
    sluice = await startSluice(["--policy", "deploy/policies", "--redis-cluster", cluster.nodes.join(",")]);

    const warnings = await linesAbout(sluice, EVICTING, 1);
    expect(warnings.map((w) => [w.node, w.maxmemoryPolicy])).toEqual([
      [`127.0.0.1:${risky.port}`, "allkeys-lru"],
    ]);
    expect(await evictingNodes(sluice)).toBe(1);
  });

  it("says it could not check when CONFIG is not allowed (as on managed Redis), and serves", async () => {
    redis = await startRedis();
    const admin = new Redis(redis.url);
    // The default user may no longer run CONFIG, as managed services disable it.
    await admin.call("ACL", "SETUSER", "default", "-config");
    admin.disconnect();
    sluice = await startSluice(["--policy", "deploy/policies", "--redis-url", redis.url]);

    const [note, ...more] = await linesAbout(sluice, "Redis eviction policy not checked", 1);
    expect(more).toEqual([]);
    expect(note).toMatchObject({ level: 30, node: `127.0.0.1:${redis.port}` });
    expect(String(note?.reason)).toMatch(/NOPERM|config/i);
    expect(await linesAbout(sluice, EVICTING, 0)).toEqual([]);
  });
});
