import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type EnvoyStack, startEnvoyStack } from "./envoy-stack.ts";
import { abandon, type Reply, type SendOptions, send } from "./http-client.ts";

// Per-tenant concurrency limits through the real Envoy 1.40 on envoy/envoy.yaml, the real
// `sluice serve` on the sample policy (Pro: 20 in flight, 500 ms queue) and a real redis-server.
// Envoy sends (tenant, plan, lease_acquire=<x-request-id>) with each request and, from
// `apply_on_stream_done`, (tenant, plan, lease_release=<x-request-id>) when it ends. What is in
// flight is read from the sample upstream's /_stats, which counts the requests it is serving.

const PRO = { headers: { "x-api-key": "demo-initech" } };
const FREE = { headers: { "x-api-key": "demo-acme-1" } };
const SHORT_LEASE_POLICY = fileURLToPath(
  new URL("../fixtures/concurrency/short-lease.yaml", import.meta.url),
);

interface Timed {
  readonly reply: Reply;
  readonly elapsedMs: number;
}

describe("per-tenant concurrency limits through Envoy", () => {
  let stack: EnvoyStack;
  // As in envoy.test.ts: a generous RPC timeout, so a stalled test box does not fail open.
  beforeAll(async () => {
    stack = await startEnvoyStack({ rlsTimeout: "2s" });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  beforeEach(async () => {
    await stack.resetCounters();
    await stack.upstreamStats({ reset: true });
  });

  const timed = async (url: string, options: SendOptions): Promise<Timed> => {
    const started = performance.now();
    const reply = await send(url, options);
    return { reply, elapsedMs: performance.now() - started };
  };
  const get = (path: string, options: SendOptions) => timed(`${stack.envoy.url}${path}`, options);
  const fire = (count: number, path: string, options: SendOptions) =>
    Array.from({ length: count }, () => get(path, options));
  const inFlight = async (count: number) => {
    await until(async () => (await stack.upstreamStats()).inFlight >= count);
  };
  const statuses = async (requests: Promise<Timed>[]) =>
    (await Promise.all(requests)).map((r) => r.reply.status);

  it("queues a Pro tenant's 21st in-flight request for 500 ms, then answers 429 with Retry-After", async () => {
    const slow = fire(20, "/v1/leads?delay_ms=3000", PRO);
    await inFlight(20);
    const { reply, elapsedMs } = await get("/v1/leads", PRO);
    expect(reply.status).toBe(429);
    expect(Number(reply.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(reply.headers["x-envoy-ratelimited"]).toBe("true");
    expect(JSON.parse(reply.body)).toMatchObject({
      error: "concurrency_limited",
      limit: "pro_in_flight",
      limit_value: 20,
      queue_timeout_ms: 500,
    });
    // It waited out its queue timeout (Sluice holds the answer), less a little for clock grain.
    expect(elapsedMs).toBeGreaterThanOrEqual(450);
    expect(await statuses(slow)).toEqual(Array(20).fill(200));
    expect((await stack.upstreamStats()).peakInFlight).toBe(20);
  });

  it("admits the 21st as soon as one of the 20 finishes within its 500 ms", async () => {
    const grantedBefore = await queueWaits("granted");
    const slow = fire(19, "/v1/leads?delay_ms=3000", PRO);
    await inFlight(19);
    const short = get("/v1/leads?delay_ms=300", PRO);
    await inFlight(20);
    const { reply } = await get("/v1/leads", PRO);
    expect(reply.status).toBe(200);
    // It did queue, and the short request's stream-done release handed it the slot.
    expect(await queueWaits("granted")).toBe(grantedBefore + 1);
    expect((await short).reply.status).toBe(200);
    expect(await statuses(slow)).toEqual(Array(19).fill(200));
    expect((await stack.upstreamStats()).peakInFlight).toBe(20);
  });

  it("frees every slot when the slow requests finish: 20 new ones are then admitted at once", async () => {
    expect(await statuses(fire(20, "/v1/leads?delay_ms=500", PRO))).toEqual(Array(20).fill(200));
    // Envoy sends each release just after its response; once they are in, no lease is held.
    await until(async () => (await metricSum(stack.sluiceAdminUrl, "sluice_concurrency_leases")) === 0);
    const queuedBefore = await queueWaits();
    await stack.upstreamStats({ reset: true });
    const replies = await Promise.all(fire(20, "/v1/leads?delay_ms=300", PRO));
    expect(replies.map((r) => r.reply.status)).toEqual(Array(20).fill(200));
    expect(await queueWaits()).toBe(queuedBefore);
    expect((await stack.upstreamStats()).peakInFlight).toBe(20);
  });

  it("does not free anyone's slot with the stream-done release of a request it refused", async () => {
    const slow = fire(20, "/v1/leads?delay_ms=4000", PRO);
    await inFlight(20);
    expect((await get("/v1/leads", PRO)).reply.status).toBe(429);
    // The refused request's release (same request id, never granted) has arrived by now...
    await sleep(200);
    expect(await metricSum(stack.sluiceAdminUrl, "sluice_concurrency_leases")).toBe(20);
    // ...and the next request still finds all 20 slots taken.
    expect((await get("/v1/leads", PRO)).reply.status).toBe(429);
    expect(await statuses(slow)).toEqual(Array(20).fill(200));
    expect((await stack.upstreamStats()).peakInFlight).toBe(20);
  });

  it("never admits more than max at once through two Sluice instances sharing Redis", async () => {
    const other = await stack.startAnotherSluice();
    const otherEnvoy = await stack.startAnotherEnvoy({ sluice: other.grpc });
    try {
      await stack.upstreamStats({ reset: true });
      const urls = [stack.envoy.url, otherEnvoy.url];
      const replies = await Promise.all(
        Array.from({ length: 60 }, (_, n) => timed(`${urls[n % 2]}/v1/leads?delay_ms=250`, PRO)),
      );
      const codes = replies.map((r) => r.reply.status);
      const admitted = codes.filter((code) => code === 200).length;
      expect(codes.filter((code) => code !== 200 && code !== 429)).toEqual([]);
      expect(admitted).toBeGreaterThanOrEqual(20);
      const stats = await stack.upstreamStats();
      expect(stats.peakInFlight).toBe(20);
      expect(stats.served).toBe(admitted);
    } finally {
      await otherEnvoy.stop();
      await other.stop();
    }
  });

  /**
   * 15 patient requests hold most of the cap, while waves of 30 more each hang up 0–50 ms after
   * sending: calls to Sluice cancelled while deciding or queued, answers crossing the cancel,
   * requests Envoy resets at the upstream. Resolves once everything has ended at the upstream.
   */
  async function hangUpWaves(): Promise<void> {
    // Warm: the first lease call connects Sluice's lease store.
    expect((await get("/v1/leads", PRO)).reply.status).toBe(200);
    await stack.upstreamStats({ reset: true });
    const patient = fire(15, "/v1/leads?delay_ms=2500", PRO);
    await inFlight(15);
    for (let wave = 0; wave < 8; wave++) {
      const hangUps = Array.from({ length: 30 }, (_, n) =>
        abandon(`${stack.envoy.url}/v1/leads?delay_ms=400`, PRO.headers, (n * 37) % 51),
      );
      await Promise.all(hangUps);
      await sleep(20);
    }
    expect(await statuses(patient)).toEqual(Array(15).fill(200));
    await until(async () => (await stack.upstreamStats()).inFlight === 0);
  }

  it("keeps the upstream within the cap when clients hang up 0–50 ms after sending", async () => {
    await hangUpWaves();
    // Envoy releases a lease when it resets the upstream request; the sample upstream stops work
    // for a request it sees reset (deploy/upstream/server.ts), so the next one never overlaps it.
    expect((await stack.upstreamStats()).peakInFlight).toBeLessThanOrEqual(20);
  });

  it("reclaims a lease whose release was lost once its lease_ttl has passed", async () => {
    // Its own Sluice (and Envoy) on a policy giving Free one lease of 10 s.
    const sluice = await stack.startAnotherSluice({ policyPaths: [SHORT_LEASE_POLICY] });
    const envoy = await stack.startAnotherEnvoy({ sluice: sluice.grpc });
    try {
      const leasedAt = Date.now();
      const held = timed(`${envoy.url}/v1/leads?delay_ms=1000`, FREE);
      await inFlight(1);
      // Down while the request runs: Envoy's stream-done release for it goes nowhere.
      await sluice.stop();
      expect((await held).reply.status).toBe(200);
      await sluice.start();

      const refused = await timed(`${envoy.url}/v1/leads`, FREE);
      expect(Date.now() - leasedAt, "still within the lost lease's 10 s").toBeLessThan(9_000);
      expect(refused.reply.status).toBe(429);
      expect(JSON.parse(refused.reply.body)).toMatchObject({
        error: "concurrency_limited",
        limit: "short_lease",
      });

      await sleep(Math.max(0, leasedAt + 10_500 - Date.now()));
      expect((await timed(`${envoy.url}/v1/leads`, FREE)).reply.status).toBe(200);
      expect(await metricSum(sluice.adminUrl, "sluice_concurrency_expired_leases_total")).toBe(1);
    } finally {
      await envoy.stop();
      await sluice.stop();
    }
  });

  /** Queued requests of the main Sluice so far: all, or those that ended `outcome`. */
  async function queueWaits(outcome?: string): Promise<number> {
    return metricSum(stack.sluiceAdminUrl, "sluice_concurrency_queue_wait_seconds_count", outcome);
  }
});

/** The sum of a metric's samples on a Sluice admin /metrics, optionally only those with `outcome`. */
async function metricSum(adminUrl: string, name: string, outcome?: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    if (outcome !== undefined && !(match[2] ?? "").includes(`outcome="${outcome}"`)) continue;
    sum += Number(match[3]);
  }
  return sum;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}
