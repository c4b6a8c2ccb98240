import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type EnvoyStack, startEnvoyStack } from "./envoy-stack.ts";
import { type Reply, rateLimitHeaders, type SendOptions, send } from "./http-client.ts";

// The real Envoy 1.40 on envoy/envoy.yaml in front of the sample upstream, asking the real
// `sluice serve` (sample policy, real redis-server). Every assertion is on what a client of Envoy
// sees, plus Envoy's own admin stats.
//
// Client IPs: Envoy keys the health limit on the TCP peer address (use_remote_address, no trusted
// x-forwarded-for hops), so tests act as different clients by connecting from 127.0.0.2, 127.0.0.3...

/** Envoy's rate-limit stats are kept under the route's target cluster, not the rate-limit cluster. */
const STAT = "cluster.upstream.ratelimit.";

const FREE = { key: "demo-acme-1", otherKey: "demo-acme-2" };

describe("Envoy in front of Sluice", () => {
  let stack: EnvoyStack;
  // The file's 750ms RPC timeout is the production choice; on a 2-core box running several suites a
  // Node process can stall longer than that, and a timed-out call fails open, so the tests allow more.
  beforeAll(async () => {
    stack = await startEnvoyStack({ rlsTimeout: "2s" });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  beforeEach(async () => {
    await stack.resetCounters();
    await awayFromMinuteEnd();
  });

  const get = (path: string, options: SendOptions = {}): Promise<Reply> =>
    send(`${stack.envoy.url}${path}`, options);
  const withKey = (key: string, headers: Record<string, string> = {}): SendOptions => ({
    headers: { "x-api-key": key, ...headers },
  });

  it("lets a Free tenant make 20 requests a minute, counting down, then answers 429 with Retry-After", async () => {
    for (let n = 1; n <= 20; n++) {
      const reply = await get("/v1/leads", withKey(FREE.key));
      expect(reply.status).toBe(200);
      const headers = rateLimitHeaders(reply);
      expect(headers).toMatchObject({ limit: 20, remaining: 20 - n });
      expect(headers.reset).toBeGreaterThanOrEqual(dateSeconds(reply));
    }

    const refused = await get("/v1/leads", withKey(FREE.key));
    expect(refused.status).toBe(429);
    expect(refused.headers["x-envoy-ratelimited"]).toBe("true");
    const headers = rateLimitHeaders(refused);
    expect(headers).toMatchObject({ limit: 20, remaining: 0 });
    const now = dateSeconds(refused);
    expect(headers.reset).toBeGreaterThanOrEqual(now);
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    // A sliding minute forgets a hit within two minutes at most; refused hits count too, so a refusal
    // early in a minute can be told to wait a little over 60 s.
    expect(retryAfter).toBeLessThanOrEqual(120);
    // On a refusal Reset is the moment Retry-After points at: Sluice's now, rounded up, plus the wait.
    // Envoy's Date header is whole seconds and refreshed about twice a second, so allow 2 s of slack.
    const impliedNow = (headers.reset ?? 0) - retryAfter;
    expect(impliedNow).toBeGreaterThanOrEqual(now);
    expect(impliedNow).toBeLessThanOrEqual(now + 2);
    expect(refused.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(refused.body)).toMatchObject({ error: "rate_limited" });
  });

  it("gives Starter 60 a minute, and shows Pro its 300 counting down", async () => {
    for (let n = 1; n <= 60; n++) {
      const reply = await get("/v1/contacts", withKey("demo-globex"));
      expect(reply.status).toBe(200);
      expect(rateLimitHeaders(reply)).toMatchObject({ limit: 60, remaining: 60 - n });
    }
    expect((await get("/v1/contacts", withKey("demo-globex"))).status).toBe(429);

    for (let n = 1; n <= 3; n++) {
      const reply = await get("/v1/contacts", withKey("demo-initech"));
      expect(reply.status).toBe(200);
      expect(rateLimitHeaders(reply)).toMatchObject({ limit: 300, remaining: 300 - n });
    }
  });

  it("limits Enterprise by its 1,000-a-minute window, with no daily cap in the way", async () => {
    // One key alone ties the tenant's minute window with the key's 1,000/hour; a second key of the
    // same tenant makes the tenant's minute window the tighter one, which the headers then show.
    expect((await get("/v1/leads", withKey("demo-umbrella-1"))).status).toBe(200);
    const reply = await get("/v1/leads", withKey("demo-umbrella-2"));
    expect(reply.status).toBe(200);
    const headers = rateLimitHeaders(reply);
    expect(headers).toMatchObject({ limit: 1000, remaining: 998 });
    // Within a minute of now: the minute window's end, not the key's hour (Date may lag by a second).
    expect(headers.reset).toBeLessThanOrEqual(dateSeconds(reply) + 61);
  });

  it("makes two API keys of one tenant share its quota, whatever tenant or plan a client claims", async () => {
    const forged = { "x-sluice-tenant": "megacorp", "x-sluice-plan": "enterprise" };
    for (let n = 1; n <= 20; n++) {
      const key = n % 2 === 0 ? FREE.otherKey : FREE.key;
      const reply = await get("/v1/leads", withKey(key, n % 4 === 0 ? forged : {}));
      expect(reply.status).toBe(200);
      expect(rateLimitHeaders(reply)).toMatchObject({ limit: 20, remaining: 20 - n });
      expect(JSON.parse(reply.body)).toMatchObject({ tenant: "acme" });
    }
    expect((await get("/v1/leads", withKey(FREE.key))).status).toBe(429);
    expect((await get("/v1/leads", withKey(FREE.otherKey, forged))).status).toBe(429);
    // Another tenant is untouched, and claims without a key get nowhere.
    expect((await get("/v1/leads", withKey("demo-globex"))).status).toBe(200);
    expect((await get("/v1/leads", { headers: forged })).status).toBe(401);
  });

  it("limits /api/health to 60 a minute per client IP, whatever API key comes with it", async () => {
    const keys = ["demo-acme-1", "demo-globex", "demo-initech", "demo-umbrella-1", "demo-megacorp"];
    for (let n = 1; n <= 60; n++) {
      const key = keys[n % keys.length] ?? "";
      const reply = await get("/api/health", { ...withKey(key), from: "127.0.0.2" });
      expect(reply.status).toBe(200);
      expect(rateLimitHeaders(reply)).toMatchObject({ limit: 60, remaining: 60 - n });
    }
    expect((await get("/api/health", { from: "127.0.0.2" })).status).toBe(429);
    expect((await get("/api/health", { ...withKey("demo-initech"), from: "127.0.0.2" })).status).toBe(429);

    const otherClient = await get("/api/health", { from: "127.0.0.3" });
    expect(otherClient.status).toBe(200);
    expect(rateLimitHeaders(otherClient)).toMatchObject({ limit: 60, remaining: 59 });
    // The API itself is limited per tenant, not per IP: the refused client can still call it.
    expect((await get("/v1/leads", { ...withKey(FREE.key), from: "127.0.0.2" })).status).toBe(200);
  });

  it("counts POST /v1/leads/bulk as one request, however many leads it carries", async () => {
    expect(rateLimitHeaders(await get("/v1/leads", withKey(FREE.key)))).toMatchObject({
      limit: 20,
      remaining: 19,
    });

    const leads = JSON.stringify(Array.from({ length: 250 }, (_, i) => ({ name: `lead ${i}` })));
    const bulk = await get("/v1/leads/bulk", { ...withKey(FREE.key), method: "POST", body: leads });
    expect(bulk.status).toBe(202);
    expect(JSON.parse(bulk.body)).toMatchObject({ tenant: "acme", accepted: 250 });
    // The Free plan's bulk sub-limit (10 a minute) is the tighter window, so the headers show it.
    expect(rateLimitHeaders(bulk)).toMatchObject({ limit: 10, remaining: 9 });

    expect(rateLimitHeaders(await get("/v1/leads", withKey(FREE.key)))).toMatchObject({
      limit: 20,
      remaining: 17,
    });
  });

  it("counts in Envoy's stats exactly the decisions the clients saw", async () => {
    const before = await stack.envoy.counters(STAT);
    const statuses: number[] = [];
    for (let n = 0; n < 23; n++) statuses.push((await get("/v1/leads", withKey(FREE.key))).status);
    statuses.push((await get("/v1/leads", withKey("unknown-key"))).status);
    const after = await stack.envoy.counters(STAT);

    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    expect(statuses.at(-1)).toBe(401);
    // The 401 comes from the Lua filter before any rate-limit call.
    expect(delta(before, after)).toEqual({ [`${STAT}ok`]: 20, [`${STAT}over_limit`]: 3 });
  });

  it("fails open, or with the deny variant closed with 500, while Sluice is down; resumes when it is back", async () => {
    const deny = await stack.startAnotherEnvoy({ failureModeDeny: true });
    try {
      for (let n = 0; n < 20; n++) await get("/v1/leads", withKey(FREE.key));
      expect((await get("/v1/leads", withKey(FREE.key))).status).toBe(429);
      expect((await send(`${deny.url}/v1/leads`, withKey(FREE.key))).status).toBe(429);

      await stack.stopSluice();
      const before = await stack.envoy.counters(STAT);
      const open = await get("/v1/leads", withKey(FREE.key));
      expect(open.status).toBe(200);
      expect(rateLimitHeaders(open)).toEqual({ limit: undefined, remaining: undefined, reset: undefined });
      expect(delta(before, await stack.envoy.counters(STAT))).toEqual({
        [`${STAT}error`]: 1,
        [`${STAT}failure_mode_allowed`]: 1,
      });
      const closed = await send(`${deny.url}/v1/leads`, withKey(FREE.key));
      expect(closed.status).toBe(500);
      expect(closed.headers["x-ratelimit-limit"]).toBeUndefined();

      // Same port, same Redis: the exhausted quota is still exhausted, and the same Envoys enforce it.
      await stack.startSluice();
      expect((await get("/v1/leads", withKey(FREE.key))).status).toBe(429);
      expect((await send(`${deny.url}/v1/leads`, withKey(FREE.key))).status).toBe(429);
      const otherTenant = await send(`${deny.url}/v1/leads`, withKey("demo-initech"));
      expect(otherTenant.status).toBe(200);
      expect(rateLimitHeaders(otherTenant)).toMatchObject({ limit: 300, remaining: 299 });
    } finally {
      await deny.stop();
    }
  });
});

/** The counters that changed, by how much. */
function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [name, value] of Object.entries(after)) {
    const by = value - (before[name] ?? 0);
    if (by !== 0) changed[name] = by;
  }
  return changed;
}

/**
 * The reply's Date header in Unix seconds: "now" as Envoy saw it, give or take a second (Envoy
 * refreshes the header about twice a second, and it has no fraction).
 */
function dateSeconds(reply: Reply): number {
  return Math.floor(Date.parse(String(reply.headers.date)) / 1000);
}

/**
 * Sluice's windows turn over on the minute. A test that started in a minute's last seconds could
 * see its early requests weighted down by the sliding window; start such a test in the next minute.
 */
async function awayFromMinuteEnd(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await sleep(60_000 - intoMinute + 100);
}
