import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSeries, scrape } from "../support/metrics-text.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient, type RlsRequest } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { callOutcome } from "../support/steady-load.ts";

/**
 * No lease outlives a Redis pause (SIGSTOP for 2 s) under lease traffic. While Redis is silent,
 * acquires already sent wait in its socket and would run when it resumes, long after their callers
 * were answered UNAVAILABLE; releases refused meanwhile would leave leases held for the whole
 * lease_ttl (30 s in the fixture). Once Redis resumes, a tenant's full cap (2) is taken again
 * within about a second.
 */

const POLICIES = "test/fixtures/lease-reliability";
const CALL_TIMEOUT_MS = 300;
const PAUSE_MS = 2_000;
/** How soon after SIGCONT the full cap must be taken again: ~1 s, plus slack for a loaded box. */
const RECOVERY_MS = 1_500;
const run = `${process.pid}-${Date.now()}`;

const lease = (tenant: string, kind: "lease_acquire" | "lease_release", id: string): RlsRequest => ({
  domain: "lease-default",
  descriptors: [
    {
      entries: [
        { key: "tenant", value: `${run}-${tenant}` },
        { key: "plan", value: "pro" },
        { key: kind, value: `${run}-${id}` },
      ],
    },
  ],
});

describe("chaos: no concurrency lease outlives a Redis pause", () => {
  let redis: RedisServer;
  let sluice: SluiceProcess;
  let client: RlsClient;
  let paused = false;

  beforeAll(async () => {
    redis = await startRedis();
    sluice = await startSluice([
      ...["--policy", POLICIES, "--redis-url", redis.url, "--failure-policy", "unavailable"],
      // As in lease-outage.test.ts: short enough that the pause opens the circuit quickly.
      ...["--store-timeout-ms", "100"],
    ]);
    client = createRlsClient(sluice.grpcAddress);
    // The first lease call connects the lease store and loads its scripts: wait until Redis decides.
    if ((await fullCapAgain("warm", 10_000)) === undefined) throw new Error("Redis never decided a lease");
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    if (paused) process.kill(redis.pid, "SIGCONT");
    await redis?.stop();
  });

  const ask = (request: RlsRequest) => callOutcome(client, request, CALL_TIMEOUT_MS);

  /**
   * Whether `max` (2) fresh acquires of `tenant` are both granted by Redis; released again after.
   * The calls carry only the lease entry, so an answer has no rate headers.
   */
  async function takeFullCap(tenant: string): Promise<boolean> {
    const ids = [`fresh-${Math.random()}`, `fresh-${Math.random()}`];
    const outcomes = await Promise.all(ids.map((id) => ask(lease(tenant, "lease_acquire", id))));
    await Promise.all(ids.map((id) => ask(lease(tenant, "lease_release", id))));
    // Under `unavailable` only Redis answers OK: a store failure is UNAVAILABLE.
    return outcomes.every((o) => o === "OK");
  }

  /** Polls takeFullCap until it succeeds or `withinMs` pass; resolves with when it did, or undefined. */
  async function fullCapAgain(tenant: string, withinMs: number): Promise<number | undefined> {
    const from = Date.now();
    while (Date.now() - from < withinMs) {
      if (await takeFullCap(tenant)) return Date.now();
      await sleep(50);
    }
    return undefined;
  }

  /**
   * Workers that each take a lease and give it back, as Envoy does for a request and its stream
   * end, whatever the acquire's answer; bounded by `maxMs` and stopped by the returned function.
   */
  function leaseTraffic(tenant: string, workers: number, maxMs: number): () => Promise<number> {
    let stopped = false;
    let calls = 0;
    const started = Date.now();
    const worker = async (w: number) => {
      for (let n = 0; !stopped && Date.now() - started < maxMs; n++) {
        const id = `w${w}-${n}`;
        await ask(lease(tenant, "lease_acquire", id));
        await ask(lease(tenant, "lease_release", id));
        calls += 2;
        await sleep(5);
      }
    };
    const running = Array.from({ length: workers }, (_, w) => worker(w));
    return async () => {
      stopped = true;
      await Promise.all(running);
      return calls;
    };
  }

  async function openLeaseCircuits(): Promise<number> {
    const series = parseSeries(await scrape(sluice.adminUrl));
    return series.get('sluice_store_open_circuits{store="lease"}') ?? 0;
  }

  function pauseRedis(): void {
    process.kill(redis.pid, "SIGSTOP");
    paused = true;
  }

  /** Resumes Redis once it has been paused for PAUSE_MS since `pausedAt`; returns when it did. */
  async function resumeRedis(pausedAt: number): Promise<number> {
    await sleep(Math.max(0, pausedAt + PAUSE_MS - Date.now()));
    process.kill(redis.pid, "SIGCONT");
    paused = false;
    return Date.now();
  }

  it("takes a tenant's full cap within about a second of Redis resuming after a pause under lease traffic", async () => {
    const stop = leaseTraffic("busy", 6, 10_000);
    await sleep(300);
    const pausedAt = Date.now();
    pauseRedis();
    const resumedAt = await resumeRedis(pausedAt);
    // Each worker's calls in flight end within their deadline; none holds a lease after.
    expect(await stop()).toBeGreaterThan(0);
    const takenAt = await fullCapAgain("busy", 5_000);
    expect(takenAt, "the full cap was still not free 5 s after Redis resumed").toBeDefined();
    expect((takenAt ?? Infinity) - resumedAt).toBeLessThan(RECOVERY_MS);
  });

  it("gives back leases whose releases came during the pause once Redis resumes", async () => {
    expect(await ask(lease("held", "lease_acquire", "a"))).toBe("OK");
    expect(await ask(lease("held", "lease_acquire", "b"))).toBe("OK");
    const pausedAt = Date.now();
    pauseRedis();
    // Calls time out until the lease store's circuit opens; the releases then are not even sent.
    for (let n = 0; n < 20 && (await openLeaseCircuits()) === 0; n++) {
      await ask(lease("other", "lease_acquire", `open-${n}`));
    }
    expect(await openLeaseCircuits()).toBeGreaterThan(0);
    // The stream-done releases arrive while Redis is silent: answered, but Redis cannot take them.
    expect(await ask(lease("held", "lease_release", "a"))).toBe("OK");
    expect(await ask(lease("held", "lease_release", "b"))).toBe("OK");
    const resumedAt = await resumeRedis(pausedAt);
    const takenAt = await fullCapAgain("held", 5_000);
    expect(takenAt, "the released leases were still held 5 s after Redis resumed").toBeDefined();
    expect((takenAt ?? Infinity) - resumedAt).toBeLessThan(RECOVERY_MS);
  });
});
