import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePlanLeaseRound, LEASE_ROUND } from "../support/free-plan-leases.ts";
import { isRunning } from "../support/process.ts";
import { type RedisSentinelSetup, startRedisSentinel } from "../support/redis-sentinel.ts";
import type { RedisServer, RedisTlsFiles } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { callOutcome, type LoadCall, type SteadyLoad, startSteadyLoad } from "../support/steady-load.ts";
import { ENFORCED, strictLimitOutcomes, strictRequest } from "../support/strict-limit.ts";
import { createTestPki, type TestPki } from "../support/test-certificates.ts";

/**
 * Sluice on a master found through Redis Sentinel (a master, one replica, three sentinels, with
 * AUTH on both the data nodes and the sentinels; once in plaintext, once with every link TLS only),
 * through two failovers without a restart: one the
 * sentinels are told to make (the old master stays up and is demoted), then the master SIGKILLed.
 * Each time the sentinels promote the replica; Sluice must answer from the new master, enforce a
 * small limit exactly and hand out concurrency leases there, and never crash. Calls during the
 * failover may only be answered per the failure policy (UNAVAILABLE), never wrongly.
 */

const MASTER_PASSWORD = "data-secret";
const SENTINEL_PASSWORD = "sentinel-secret";
/** Bound on each failover, from the fault until Sluice decides from Redis again (ms). Generous: a shared box. */
const FAILOVER_BOUND_MS = 30_000;
/**
 * Bound on the setup before each fault: a replica in sync and listed by the sentinels (ms). After the
 * told failover the demoted master resyncs (over TLS in that variant) and the sentinels see it in
 * their next INFO round (every 10 s): 10–15 s here on a quiet machine, once past 30 s in a full CI run.
 */
const REPLICA_BOUND_MS = 60_000;
const CALL_TIMEOUT_MS = 1_000;
const run = `${process.pid}-${Date.now()}`;

describe.each([
  ["plaintext", "redis"],
  ["TLS only (rediss:// seeds, --redis-tls-ca)", "rediss"],
] as const)("chaos: Redis Sentinel failovers under a running Sluice, %s", (_name, scheme) => {
  let pki: TestPki | undefined;
  let setup: RedisSentinelSetup;
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    let tls: RedisTlsFiles | undefined;
    if (scheme === "rediss") {
      pki = await createTestPki();
      const ca = await pki.createCa("redis-ca");
      const server = await pki.issue(ca, "redis", "server");
      tls = { certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile };
    }
    setup = await startRedisSentinel({
      masterPassword: MASTER_PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
      tls,
    });
    // The first seed URL carries the sentinels' password; the master's has its own flag.
    const [first, ...others] = setup.sentinels.map((s) => `${scheme}://${s}`);
    sluice = await startSluice([
      ...["--policy", "test/fixtures/reliability", "--policy", "test/fixtures/concurrency"],
      ...["--redis-sentinel", [first?.replace("://", `://:${SENTINEL_PASSWORD}@`), ...others].join(",")],
      ...["--redis-sentinel-master", setup.masterName],
      ...["--redis-sentinel-master-password", MASTER_PASSWORD],
      ...(tls ? ["--redis-tls-ca", tls.caFile] : []),
      ...["--store-timeout-ms", "500"],
    ]);
    client = createRlsClient(sluice.grpcAddress);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    await setup?.stop();
    await pki?.remove();
  });

  it("enforces limits and hands out leases on the master the sentinels name", async () => {
    await expect
      .poll(() => callOutcome(client, strictRequest("rel-default", `warm-${run}`), CALL_TIMEOUT_MS), {
        timeout: 10_000,
      })
      .toBe("OK+headers");
    expect(await strictLimitOutcomes(client, "rel-default", `before-${run}`)).toEqual(ENFORCED);
    expect(await freePlanLeaseRound(client, `before-${run}`)).toEqual(LEASE_ROUND);
    expect(await chargesOn(setup, await setup.master())).toBeGreaterThanOrEqual(9);
    expect(sluice.output()).toContain('"store":"redis-sentinel"');
  });

  it.each([
    ["a failover the sentinels are told to make (the old master stays up, demoted)", "failover"],
    ["the master SIGKILLed", "kill"],
  ] as const)(
    "follows %s without a restart",
    async (_name, fault) => {
      const setupAt = Date.now();
      await setup.waitForReplica(REPLICA_BOUND_MS);
      const replicaReadyMs = Date.now() - setupAt;
      const old = await setup.master();
      const load = steadyLoad(client, fault);
      await sleep(300);
      const faultAt = Date.now();
      if (fault === "kill") process.kill(old.pid, "SIGKILL");
      else await setup.sentinelCli("sentinel", "failover", setup.masterName);

      const promoted = await setup.waitForNewMaster(old, FAILOVER_BOUND_MS);
      const promotedAt = Date.now();
      // Decided by the promoted master: a fresh call runs its charge script there.
      await expect
        .poll(
          async () => {
            const before = await chargesOn(setup, promoted);
            const outcome = await callOutcome(
              client,
              strictRequest("rel-default", `${fault}-probe-${Date.now()}`),
              CALL_TIMEOUT_MS,
            );
            return outcome === "OK+headers" && (await chargesOn(setup, promoted)) > before;
          },
          { timeout: FAILOVER_BOUND_MS, interval: 50 },
        )
        .toBe(true);
      const decidedAt = Date.now();
      await sleep(300);
      const calls = await load.stop();
      console.info(
        `sentinel ${scheme} ${fault}: a replica was in sync and listed after ${replicaReadyMs} ms; sentinels agreed on the new master after ${promotedAt - faultAt} ms, ` +
          `a fresh call was decided by Redis after ${decidedAt - faultAt} ms; ${summary(calls, faultAt)}`,
      );

      // During the failover a call is decided by Redis or answered per the failure policy, nothing else.
      expect(calls.filter((c) => !["OK+headers", "UNAVAILABLE:store"].includes(c.outcome))).toEqual([]);
      expect(calls.at(-1)?.outcome).toBe("OK+headers");
      expect(await strictLimitOutcomes(client, "rel-default", `${fault}-after-${run}`)).toEqual(ENFORCED);
      expect(await freePlanLeaseRound(client, `${fault}-after-${run}`)).toEqual(LEASE_ROUND);
      // The counters just charged are on the promoted node, which now says it is the master.
      expect(await setup.cli(promoted, "info", "replication")).toContain("role:master");
      expect(await setup.cli(promoted, "--scan", "--pattern", "sluice:*")).not.toBe("");
      expect(isRunning(sluice.pid)).toBe(true);
      expect(sluice.output()).not.toMatch(/Unhandled error|uncaught/i);
    },
    REPLICA_BOUND_MS + 2 * FAILOVER_BOUND_MS + 30_000,
  );
});

/** Scripts run on a data node so far (EVALSHA and EVAL calls, from INFO commandstats). */
async function chargesOn(setup: RedisSentinelSetup, server: RedisServer): Promise<number> {
  const stats = await setup.cli(server, "info", "commandstats");
  return [...stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

function steadyLoad(client: RlsClient, tag: string): SteadyLoad {
  return startSteadyLoad({
    client,
    concurrency: 2,
    pauseMs: 20,
    timeoutMs: CALL_TIMEOUT_MS,
    next: (n) => ({
      request: {
        domain: "rel-default",
        descriptors: [{ entries: [{ key: "user", value: `${tag}-${n % 50}` }] }],
      },
      tag,
    }),
    maxCalls: 100_000,
    maxDurationMs: 2 * FAILOVER_BOUND_MS,
  });
}

/** Calls by outcome, and how long answers were not decided by Redis (first to last such call). */
function summary(calls: readonly LoadCall[], faultAt: number): string {
  const counts = new Map<string, number>();
  for (const c of calls) counts.set(c.outcome, (counts.get(c.outcome) ?? 0) + 1);
  const undecided = calls.filter((c) => c.outcome !== "OK+headers");
  const gap =
    undecided.length === 0
      ? 0
      : Math.max(...undecided.map((c) => c.doneAt)) - Math.min(...undecided.map((c) => c.sentAt));
  const lastUndecided = Math.max(faultAt, ...undecided.map((c) => c.doneAt));
  return `last undecided call ${lastUndecided - faultAt} ms after the fault; ${calls.length} calls under load (${[...counts].map(([o, n]) => `${o} ${n}`).join(", ")}), not decided by Redis for ${gap} ms`;
}
