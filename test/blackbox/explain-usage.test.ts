import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePlanLease } from "../support/free-plan-leases.ts";
import { awayFromMinuteEnd } from "../support/minute-slot.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, headersOf, type RlsClient } from "../support/rls-client.ts";
import { runSluice, type SluiceProcess, startSluice } from "../support/sluice-process.ts";

// Black-box: `sluice serve` on the sample policy, asked through the admin port's /explain and /usage
// and through `sluice explain`, on the memory store and on a real Redis. The questions must count
// nothing: a real call made after them meets exactly what they predicted.

interface ExplainBody {
  nextCall: { code: string; retryAfterSeconds?: number; responseHeaders: { key: string; value: string }[] };
  descriptors: {
    outcome: string;
    why: string;
    rule?: string;
    match?: { steps: { node: string }[] };
    windows: {
      name: string;
      remaining: number;
      estimate: number;
      resetSeconds: number;
      next: { remaining: number; retryAfterSeconds?: number };
    }[];
    concurrency?: { name: string; max: number; held?: number };
  }[];
}

const planCall = (tenant: string, plan: string) => ({
  domain: "api",
  descriptors: [
    {
      entries: [
        { key: "tenant", value: tenant },
        { key: "plan", value: plan },
      ],
    },
  ],
});

describe.each(["memory", "redis"] as const)("explain and usage (%s store)", (kind) => {
  let redis: RedisServer | undefined;
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    redis = kind === "redis" ? await startRedis() : undefined;
    sluice = await startSluice(["--policy", "deploy/policies", ...(redis ? ["--redis-url", redis.url] : [])]);
    client = createRlsClient(sluice.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    expect(await sluice?.stop()).toBe(0);
    await redis?.stop();
  });

  const explain = async (body: unknown): Promise<ExplainBody> => {
    const response = await fetch(`${sluice.adminUrl}/explain`, {
      method: "POST",
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as ExplainBody;
  };
  const tenantId = (name: string) => `${name}-${kind}-${process.pid}-${Date.now()}`;

  it("explains a call without counting it: the real call after it meets the same figures", async () => {
    await awayFromMinuteEnd();
    const tenant = tenantId("pro");
    const first = await explain(planCall(tenant, "pro"));
    const again = await explain(planCall(tenant, "pro"));
    // Everything but the seconds to the reset, which may tick between the two calls on a busy machine.
    const counts = (body: ExplainBody) =>
      body.descriptors[0]?.windows.map(({ resetSeconds: _reset, next, ...w }) => ({
        ...w,
        next: { ...next, retryAfterSeconds: undefined },
      }));
    expect(counts(again)).toEqual(counts(first));
    const [descriptor] = first.descriptors;
    expect(descriptor).toMatchObject({ outcome: "charged", rule: "pro_per_minute" });
    expect(descriptor?.match?.steps.map((s) => s.node)).toEqual(["bare", "exact"]);
    expect(descriptor?.why).toContain("tenant=");
    expect(descriptor?.windows.map((w) => [w.name, w.remaining, w.next.remaining])).toEqual([
      ["pro_per_minute", 300, 299],
      ["pro_per_day", 100_000, 99_999],
    ]);
    expect(descriptor?.concurrency).toMatchObject({ name: "pro_in_flight", max: 20 });

    const real = await client.shouldRateLimit(planCall(tenant, "pro"));
    expect(real.overall_code).toBe(first.nextCall.code);
    expect(headersOf(real.response_headers_to_add)["x-ratelimit-remaining"]).toBe("299");
    const after = await explain(planCall(tenant, "pro"));
    expect(after.descriptors[0]?.windows.map((w) => w.remaining)).toEqual([299, 99_999]);
  });

  it("tells a refused tenant the Retry-After its next call gets", async () => {
    await awayFromMinuteEnd();
    const tenant = tenantId("free");
    for (let n = 0; n < 20; n++) await client.shouldRateLimit(planCall(tenant, "free"));
    const explained = await explain(planCall(tenant, "free"));
    expect(explained.nextCall.code).toBe("OVER_LIMIT");
    expect(explained.descriptors[0]?.windows[0]).toMatchObject({ name: "free_per_minute", remaining: 0 });
    const refused = await client.shouldRateLimit(planCall(tenant, "free"));
    expect(refused.overall_code).toBe("OVER_LIMIT");
    const retryAfter = Number(headersOf(refused.response_headers_to_add)["retry-after"]);
    // The same instant give or take the round trip between the two questions.
    expect(Math.abs(retryAfter - (explained.nextCall.retryAfterSeconds ?? 0))).toBeLessThanOrEqual(1);
  });

  it("says why descriptors are not limited", async () => {
    const explained = await explain({
      domain: "api",
      descriptors: [
        {
          entries: [
            { key: "tenant", value: "x" },
            { key: "plan", value: "gold" },
          ],
        },
        { entries: [{ key: "nothing", value: "here" }] },
      ],
    });
    expect(explained.descriptors.map((d) => d.outcome)).toEqual(["unmatched", "unmatched"]);
    expect(explained.descriptors[0]?.why).toContain("entry 1: no node takes it");
    expect(explained.nextCall.code).toBe("OK");
  });

  it("shows a tenant's usage: every limit of its plan with used, remaining and reset", async () => {
    await awayFromMinuteEnd();
    const tenant = tenantId("usage");
    for (let n = 0; n < 3; n++) await client.shouldRateLimit(planCall(tenant, "free"));
    const response = await fetch(`${sluice.adminUrl}/usage?domain=api&tenant=${tenant}&plan=free`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const usage = (await response.json()) as {
      limits: { name: string; limit: number; used: number; remaining: number; resetSeconds: number }[];
      concurrency: { name: string; max: number }[];
    };
    expect(usage.limits.map((l) => [l.name, l.limit, l.used, l.remaining])).toEqual([
      ["free_per_minute", 20, 3, 17],
      ["free_per_day", 1000, 3, 997],
      ["free_bulk_per_minute", 10, 0, 10],
    ]);
    for (const limit of usage.limits) expect(limit.resetSeconds).toBeGreaterThan(0);
    expect(usage.concurrency).toMatchObject([{ name: "free_in_flight", max: 2 }]);
    // Asking counted nothing.
    const again = (await (await fetch(response.url)).json()) as typeof usage;
    expect(again.limits.map((l) => l.used)).toEqual([3, 3, 0]);
  });

  it("reports the leases in flight, and counting them frees and takes none", async () => {
    const tenant = tenantId("leases");
    const lease = (kind: "lease_acquire" | "lease_release", id: string) =>
      client.shouldRateLimit(freePlanLease(tenant, kind, id));
    const held = async () => {
      const explained = await explain(freePlanLease(tenant, "lease_acquire", "asking"));
      const usage = (await (
        await fetch(`${sluice.adminUrl}/usage?domain=api&tenant=${tenant}&plan=free`)
      ).json()) as { concurrency: { name: string; max: number; held?: number }[] };
      expect(usage.concurrency).toEqual([expect.objectContaining({ name: "free_in_flight", max: 2 })]);
      expect(explained.descriptors[0]?.concurrency?.held).toBe(usage.concurrency[0]?.held);
      return usage.concurrency[0]?.held;
    };
    expect(await held()).toBe(0);
    expect((await lease("lease_acquire", "one")).overall_code).toBe("OK");
    expect((await lease("lease_acquire", "two")).overall_code).toBe("OK");
    expect(await held()).toBe(2);
    expect(await held()).toBe(2);
    // The questions took no lease and freed none: the Free plan's two are still taken.
    expect((await lease("lease_acquire", "three")).overall_code).toBe("OVER_LIMIT");
    await lease("lease_release", "one");
    expect(await held()).toBe(1);
    expect((await lease("lease_acquire", "three")).overall_code).toBe("OK");
    expect(await held()).toBe(2);
  });

  it("answers bad questions with 400, 404 and 405", async () => {
    const post = (body: string) => fetch(`${sluice.adminUrl}/explain`, { method: "POST", body });
    expect((await post("{")).status).toBe(400);
    expect((await post(" ".repeat(65 * 1024))).status).toBe(413);
    expect((await post(JSON.stringify({ domain: "api", descriptors: [] }))).status).toBe(400);
    expect((await fetch(`${sluice.adminUrl}/explain`)).status).toBe(405);
    expect((await fetch(`${sluice.adminUrl}/usage?domain=web&tenant=a`)).status).toBe(404);
    expect((await fetch(`${sluice.adminUrl}/usage?domain=api&tenant=a&plan=gold`)).status).toBe(404);
    expect((await fetch(`${sluice.adminUrl}/usage?tenant=a`)).status).toBe(400);
  });

  it("answers `sluice explain --admin-url` with the same explanation", async () => {
    const tenant = tenantId("cli");
    const run = await runSluice([
      "explain",
      "--admin-url",
      sluice.adminUrl,
      "--domain",
      "api",
      `tenant=${tenant},plan=starter`,
    ]);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as ExplainBody;
    expect(printed.descriptors[0]?.windows.map((w) => w.remaining)).toEqual([60, 10_000]);
  });

  // Only Redis has a keyspace to watch: the test exists for that store alone (not reported skipped elsewhere).
  const onRedis = kind === "redis" ? it : () => undefined;
  onRedis("reads only the keys the call names, writes none, and scans nothing", async () => {
    const direct = new Redis(redis?.url ?? "");
    try {
      await direct.config("RESETSTAT");
      const keys = await direct.dbsize();
      await explain(planCall(tenantId("quiet"), "pro"));
      await fetch(`${sluice.adminUrl}/usage?domain=api&tenant=${tenantId("quiet")}&plan=free`);
      expect(await direct.dbsize()).toBe(keys);
      const stats = await direct.info("commandstats");
      expect(stats).not.toMatch(/cmdstat_(scan|keys|incrby|pexpire|set):/);
      // Local mode: the policy file and the same Redis, no running instance needed.
      const run = await runSluice([
        "explain",
        "--policy",
        "deploy/policies",
        "--redis-url",
        redis?.url ?? "",
        "--domain",
        "api",
        `tenant=${tenantId("local")},plan=pro`,
      ]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const local = JSON.parse(run.stdout) as ExplainBody;
      expect(local.descriptors[0]?.windows[0]?.remaining).toBe(300);
      expect(local.descriptors[0]?.concurrency).toEqual({ name: "pro_in_flight", max: 20, held: 0 });
      expect(await direct.dbsize()).toBe(keys);
    } finally {
      direct.disconnect();
    }
  });
});
