import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePlanLease } from "../support/free-plan-leases.ts";
import { isRunning } from "../support/process.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { runSluice, type SluiceProcess, startSluice } from "../support/sluice-process.ts";

/** Child PIDs of a process, from /proc (the cluster workers of a primary). */
async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.split(" ").filter(Boolean).map(Number);
}

async function metric(adminUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

describe("serve --workers 2 on Redis", () => {
  let redis: RedisServer;
  let sluice: SluiceProcess;
  let clients: RlsClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    sluice = await startSluice(["--policy", "deploy/policies", "--redis-url", redis.url, "--workers", "2"]);
    // Separate connections (no shared subchannel), which the primary deals round-robin to the workers.
    clients = Array.from({ length: 4 }, () =>
      createRlsClient(sluice.grpcAddress, { channelOptions: { "grpc.use_local_subchannel_pool": 1 } }),
    );
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await sluice?.stop();
    await redis?.stop();
  });

  it("logs one serving line for the one shared gRPC port and runs two workers", async () => {
    const serving = sluice
      .output()
      .split("\n")
      .filter((l) => l.includes('"msg":"serving"'));
    expect(serving).toHaveLength(1);
    expect(JSON.parse(serving[0] as string)).toMatchObject({ workers: 2, store: "redis" });
    expect(await childPids(sluice.pid)).toHaveLength(2);
  });

  it("holds a tenant to its plan across workers and sums their metrics on the primary's admin port", async () => {
    const call = (client: RlsClient) =>
      client.shouldRateLimit({
        domain: "api",
        descriptors: [
          {
            entries: [
              { key: "tenant", value: "workers-test" },
              { key: "plan", value: "free" },
            ],
          },
        ],
      });
    const replies = [];
    for (let i = 0; i < 30; i++) replies.push(await call(clients[i % clients.length] as RlsClient));
    // Free: 20 a minute, counted in the one Redis whichever worker answered.
    expect(replies.filter((r) => r.overall_code === "OK")).toHaveLength(20);
    const ok = await metric(sluice.adminUrl, 'sluice_requests_total{domain="api",code="OK"}');
    const over = await metric(sluice.adminUrl, 'sluice_requests_total{domain="api",code="OVER_LIMIT"}');
    expect(ok + over).toBe(30);
    expect(await metric(sluice.adminUrl, "sluice_store_up")).toBe(1);
  });

  it("answers /explain and /usage on the primary's admin port through a worker, leases held included", async () => {
    const tenant = `workers-explain-${Date.now()}`;
    const client = clients[0] as RlsClient;
    for (const id of ["one", "two"])
      expect((await client.shouldRateLimit(freePlanLease(tenant, "lease_acquire", id))).overall_code).toBe(
        "OK",
      );
    const usage = async () => {
      const response = await fetch(`${sluice.adminUrl}/usage?domain=api&tenant=${tenant}&plan=free`);
      expect(response.status).toBe(200);
      return (await response.json()) as {
        limits: { name: string; used: number }[];
        concurrency: { name: string; max: number; held: number }[];
      };
    };
    // Several questions, so both workers (asked in turn) answer one.
    for (let i = 0; i < 4; i++) {
      const answer = await usage();
      expect(answer.concurrency).toEqual([
        expect.objectContaining({ name: "free_in_flight", max: 2, held: 2 }),
      ]);
      expect(answer.limits.map((l) => [l.name, l.used])).toEqual([
        ["free_per_minute", 0],
        ["free_per_day", 0],
        ["free_bulk_per_minute", 0],
      ]);
    }
    const explain = await fetch(`${sluice.adminUrl}/explain`, {
      method: "POST",
      body: JSON.stringify(freePlanLease(tenant, "lease_acquire", "asking")),
    });
    expect(explain.status).toBe(200);
    const explained = (await explain.json()) as { descriptors: { concurrency?: { held?: number } }[] };
    expect(explained.descriptors[0]?.concurrency?.held).toBe(2);
    // A worker's refusals come back as they are.
    expect((await fetch(`${sluice.adminUrl}/explain`, { method: "POST", body: "{" })).status).toBe(400);
    expect((await fetch(`${sluice.adminUrl}/explain`)).status).toBe(405);
    // The primary reads at most 64 KiB of a body; past that the worker asked words the 413.
    const tooLarge = await fetch(`${sluice.adminUrl}/explain`, { method: "POST", body: "x".repeat(70_000) });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toEqual({ error: "body over 65536 bytes" });
    expect((await fetch(`${sluice.adminUrl}/usage?domain=web&tenant=a`)).status).toBe(404);
    await client.shouldRateLimit(freePlanLease(tenant, "lease_release", "one"));
    expect((await usage()).concurrency[0]?.held).toBe(1);
  });

  it("answers 503 when no worker answers in time, and answers again once they do", async () => {
    const workers = await childPids(sluice.pid);
    for (const pid of workers) process.kill(pid, "SIGSTOP");
    try {
      const [usage, json] = await Promise.all([
        fetch(`${sluice.adminUrl}/usage?domain=api&tenant=stopped&plan=free`),
        fetch(`${sluice.adminUrl}/json`, {
          method: "POST",
          body: '{"domain":"api","descriptors":[{"entries":[{"key":"tenant","value":"stopped"}]}]}',
        }),
      ]);
      expect(usage.status).toBe(503);
      expect(((await usage.json()) as { error: string }).error).toMatch(/no worker answered within/);
      // Each in its endpoint's own words: the reference's paths answer text.
      expect(json.status).toBe(503);
      expect(await json.text()).toBe("Service Unavailable: no worker answered within 6000 ms; try again\n");
    } finally {
      for (const pid of workers) process.kill(pid, "SIGCONT");
    }
    const again = await fetch(`${sluice.adminUrl}/usage?domain=api&tenant=stopped&plan=free`);
    expect(again.status).toBe(200);
  }, 20_000);

  it("forwards SIGHUP to every worker, each reloading the policy", async () => {
    const reloads = 'sluice_policy_reloads_total{result="success"}';
    const before = await metric(sluice.adminUrl, reloads);
    process.kill(sluice.pid, "SIGHUP");
    await expect.poll(() => metric(sluice.adminUrl, reloads), { timeout: 10_000 }).toBe(before + 2);
  });

  it("stops every worker on SIGTERM and exits 0", async () => {
    const workers = await childPids(sluice.pid);
    expect(await sluice.stop(20_000)).toBe(0);
    expect(workers.filter(isRunning)).toEqual([]);
  });
});

describe("serve --workers on the memory store", () => {
  it("refuses several workers, whose memory counters would each enforce every limit", async () => {
    const result = await runSluice(["serve", "--policy", "deploy/policies", "--workers", "2"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "--workers (SLUICE_WORKERS): 2 workers need --redis-url, --redis-cluster or --redis-sentinel",
    );
  });
});
