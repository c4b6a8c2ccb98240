import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth } from "../support/health-client.ts";
import { parseSeries, scrape } from "../support/metrics-text.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, headersOf, type RlsClient, type RlsRequest } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

/**
 * Concurrency leases while Redis is paused (SIGSTOP: connected, silent, the case only a timeout
 * catches): a call carrying a lease entry is answered per its domain's failure policy within its
 * deadline (`lease-local`: this instance's own leases at max ÷ expected instances; `lease-default`,
 * following `--failure-policy unavailable`: UNAVAILABLE), health stays SERVING because one domain
 * still answers, the lease store's circuit opens, and once Redis resumes it closes and leases are
 * taken and enforced in Redis again.
 */

const POLICIES = "test/fixtures/lease-reliability";
const CALL_TIMEOUT_MS = 1_000;
/** As in redis-chaos.test.ts: a healthy Redis on a loaded 2-core box sometimes takes over 50 ms. */
const STORE_TIMEOUT = ["--store-timeout-ms", "100"];
const run = `${process.pid}-${Date.now()}`;

const tenantPlan = (tenant: string) => [
  { key: "tenant", value: `${run}-${tenant}` },
  { key: "plan", value: "pro" },
];
/** What envoy/envoy.yaml sends when a request starts, and when its stream ends. */
const start = (domain: string, tenant: string, id: string): RlsRequest => ({
  domain,
  descriptors: [
    { entries: tenantPlan(tenant) },
    { entries: [...tenantPlan(tenant), { key: "lease_acquire", value: `${run}-${id}` }] },
  ],
});
const done = (domain: string, tenant: string, id: string): RlsRequest => ({
  domain,
  descriptors: [{ entries: [...tenantPlan(tenant), { key: "lease_release", value: `${run}-${id}` }] }],
});

interface Answer {
  /** `OK+headers`, `OK`, `OVER_LIMIT+headers`, `OVER_LIMIT`, `UNAVAILABLE:store` or `<STATUS>`. */
  readonly outcome: string;
  /** The 429 body's `error`, e.g. `concurrency_limited`. */
  readonly error: string | undefined;
  readonly ms: number;
}

async function ask(client: RlsClient, request: RlsRequest): Promise<Answer> {
  const from = Date.now();
  try {
    const reply = await client.shouldRateLimit(request, { timeoutMs: CALL_TIMEOUT_MS });
    const decided = "x-ratelimit-limit" in headersOf(reply.response_headers_to_add);
    const body =
      reply.raw_body.length > 0 ? (JSON.parse(reply.raw_body.toString()) as { error?: string }) : {};
    return {
      outcome: `${reply.overall_code}${decided ? "+headers" : ""}`,
      error: body.error,
      ms: Date.now() - from,
    };
  } catch (error) {
    const { code, details } = error as { code: number; details?: string };
    const store = code === status.UNAVAILABLE && details?.startsWith("counter store");
    return {
      outcome: store ? "UNAVAILABLE:store" : `${status[code] ?? code}:${details ?? ""}`,
      error: undefined,
      ms: Date.now() - from,
    };
  }
}

/** The open-circuits gauge of one store. */
async function openCircuits(sluice: SluiceProcess, store: "counter" | "lease"): Promise<number | undefined> {
  return parseSeries(await scrape(sluice.adminUrl)).get(`sluice_store_open_circuits{store="${store}"}`);
}

/** Fallbacks counted so far, per failure policy (counters and leases alike). */
async function fallbacks(sluice: SluiceProcess): Promise<Record<string, number>> {
  const counted: Record<string, number> = {};
  for (const [series, value] of parseSeries(await scrape(sluice.adminUrl))) {
    const policy = /^sluice_store_fallbacks_total\{policy="([a-z]+)"/.exec(series)?.[1];
    if (policy !== undefined) counted[policy] = (counted[policy] ?? 0) + value;
  }
  return counted;
}

/**
 * Two leases held, a third refused for concurrency, a release, and the freed slot taken again; the
 * tenant's requests `<round>-b` and `<round>-d` are left holding their leases.
 */
async function enforcesMaxTwo(client: RlsClient, domain: string, tenant: string, round: string) {
  const seen: string[] = [];
  const note = (a: Answer) => seen.push(a.error === undefined ? a.outcome : `${a.outcome}:${a.error}`);
  note(await ask(client, start(domain, tenant, `${round}-a`)));
  note(await ask(client, start(domain, tenant, `${round}-b`)));
  note(await ask(client, start(domain, tenant, `${round}-c`)));
  note(await ask(client, done(domain, tenant, `${round}-a`)));
  note(await ask(client, start(domain, tenant, `${round}-d`)));
  return seen;
}
const ENFORCED = ["OK+headers", "OK+headers", "OVER_LIMIT:concurrency_limited", "OK", "OK+headers"];

describe("chaos: concurrency leases while Redis is paused, then killed", () => {
  let redis: RedisServer;
  let sluice: SluiceProcess;
  let client: RlsClient;
  let paused = false;

  beforeAll(async () => {
    redis = await startRedis();
    sluice = await startSluice([
      ...["--policy", POLICIES, "--redis-url", redis.url, "--failure-policy", "unavailable"],
      ...STORE_TIMEOUT,
    ]);
    client = createRlsClient(sluice.grpcAddress);
    await untilRedisDecides("warm");
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    if (paused) process.kill(redis.pid, "SIGCONT");
    await redis?.stop();
  });

  /**
   * Polls with fresh lease calls until Redis decides one: only it answers OK in lease-default. The
   * first lease call opens the lease connections and loads the scripts, which on a busy machine
   * can exceed the store timeout; after an outage, the reconnect takes a moment.
   */
  async function untilRedisDecides(tenant: string): Promise<string | undefined> {
    let outcome: string | undefined;
    for (let i = 0; i < 100 && outcome !== "OK+headers"; i++) {
      outcome = (await ask(client, start("lease-default", tenant, `probe-${i}`))).outcome;
      await ask(client, done("lease-default", tenant, `probe-${i}`));
      if (outcome !== "OK+headers") await sleep(50);
    }
    return outcome;
  }

  /** With Redis unreachable: each domain's lease calls answered per its policy, in time. */
  async function answeredPerPolicy(tenant: string): Promise<void> {
    const before = await fallbacks(sluice);
    const unavailable = await ask(client, start("lease-default", tenant, "x"));
    expect(unavailable.outcome).toBe("UNAVAILABLE:store");
    expect(unavailable.ms).toBeLessThan(CALL_TIMEOUT_MS);

    // lease-local: this instance's own leases, max 2 ÷ 1 expected instance; the refusal comes after
    // the 200 ms queue, the release frees the local slot although Redis cannot be told.
    const started = Date.now();
    expect(await enforcesMaxTwo(client, "lease-local", tenant, "down")).toEqual(ENFORCED);
    // Five calls, each within its own deadline (a late answer would be DEADLINE_EXCEEDED).
    expect(Date.now() - started).toBeLessThan(5 * CALL_TIMEOUT_MS);
    // A release Redis cannot take is skipped, not failed, whatever the policy.
    expect((await ask(client, done("lease-default", tenant, "x"))).outcome).toBe("OK");

    // Health: the store is seen down, yet lease-local still answers, so gRPC stays SERVING.
    await expect
      .poll(async () => parseSeries(await scrape(sluice.adminUrl)).get("sluice_store_up"), { timeout: 5_000 })
      .toBe(0);
    expect(await checkHealth(sluice.grpcAddress, "")).toBe("SERVING");

    const after = await fallbacks(sluice);
    expect(after.local ?? 0).toBeGreaterThan(before.local ?? 0);
    expect(after.unavailable ?? 0).toBeGreaterThan(before.unavailable ?? 0);
  }

  /** Redis answers again: leases are taken and enforced there, with no fallback. */
  async function enforcedByRedisAgain(outageTenant: string, round: string): Promise<void> {
    expect(await untilRedisDecides(`${round}-probe`)).toBe("OK+headers");
    const before = await fallbacks(sluice);
    expect(await enforcesMaxTwo(client, "lease-default", `${round}-1`, "again")).toEqual(ENFORCED);
    expect(await enforcesMaxTwo(client, "lease-local", `${round}-2`, "again")).toEqual(ENFORCED);
    // The leases the outage tenant took locally (b and d) end with their releases, which free
    // them here and, should Redis hold them too, there; the tenant then has its two leases again.
    for (const id of ["down-b", "down-d"]) {
      expect((await ask(client, done("lease-local", outageTenant, id))).outcome).toBe("OK");
    }
    expect(await enforcesMaxTwo(client, "lease-local", outageTenant, "after")).toEqual(ENFORCED);
    expect(await fallbacks(sluice)).toEqual(before);
    expect(await checkHealth(sluice.grpcAddress, "")).toBe("SERVING");
  }

  it("holds each tenant to max leases in Redis while it answers", async () => {
    expect(await enforcesMaxTwo(client, "lease-default", "t1", "up")).toEqual(ENFORCED);
    expect(await enforcesMaxTwo(client, "lease-local", "t2", "up")).toEqual(ENFORCED);
  });

  it("answers lease calls per the failure policy within their deadline while Redis is paused", async () => {
    process.kill(redis.pid, "SIGSTOP");
    paused = true;
    await answeredPerPolicy("paused");
  });

  it("opens the lease store's circuit while Redis stays paused, and still answers per policy in time", async () => {
    // The lease calls above failed by timeout; a few more make sure the breaker has seen enough.
    for (let i = 0; i < 20 && !sluice.output().includes("lease store circuit opened"); i++) {
      await ask(client, start("lease-local", "open", `probe-${i}`));
      await ask(client, done("lease-local", "open", `probe-${i}`));
    }
    expect(sluice.output()).toContain("lease store circuit opened");
    expect(await openCircuits(sluice, "lease")).toBeGreaterThanOrEqual(1);
    // Refused by the breaker (or, for its probe, by the timeout): a local lease either way.
    for (const id of ["a", "b"]) {
      const answer = await ask(client, start("lease-local", "opened", id));
      expect(answer.outcome).toBe("OK+headers");
      expect(answer.ms).toBeLessThan(CALL_TIMEOUT_MS);
    }
  });

  it("takes and enforces leases in Redis again once it resumes", async () => {
    process.kill(redis.pid, "SIGCONT");
    paused = false;
    // The acquires the guard gave up on were sent already: the resumed Redis runs them, so it
    // may hold the outage's leases too, until their releases (which it also runs) or lease_ttl.
    await enforcedByRedisAgain("paused", "resumed");
    // A probe found Redis answering again.
    expect(sluice.output()).toContain("lease store circuit closed");
    expect(await openCircuits(sluice, "lease")).toBe(0);
  });

  it("answers per the failure policy with Redis killed, and uses Redis again once it restarts", async () => {
    const port = redis.port;
    process.kill(redis.pid, "SIGKILL");
    await redis.stop();
    await answeredPerPolicy("killed");
    redis = await startRedis({ port });
    // A fresh Redis has no leases: those taken locally are known only here until they end.
    await enforcedByRedisAgain("killed", "restarted");
  });
});
