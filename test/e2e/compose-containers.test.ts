import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComposeStack, startComposeStack, until } from "./compose-stack.ts";
import { type Reply, rateLimitHeaders, send } from "./http-client.ts";

// `docker compose up` as users run it, in real containers: podman-compose on the unchanged
// docker-compose.yml and Dockerfile, with local stand-ins for the pulled images (Debian's Redis 7.0
// and Prometheus 2.42, not the pinned 7.4 and 3.5; see docs/containers.md). Every request goes to
// Envoy's published port as a client's would. The tests run in order: one stack, one story.

const ACME = ["demo-acme-1", "demo-acme-2"]; // one Free tenant (20 a minute, 2 in flight), two keys
const GLOBEX = "demo-globex"; // Starter: 5 in flight, then a 500 ms queue
const PROBE = "demo-megacorp"; // Enterprise, 1,000 a minute: readiness probes cost no test any quota

describe("docker-compose.yml in containers", () => {
  let stack: ComposeStack;
  /** When the Free tenant's 429 said it could come back (ms since the epoch). */
  let retryAt = 0;

  beforeAll(async () => {
    stack = await startComposeStack();
    await enforcing();
  }, 900_000);
  afterAll(async () => {
    await stack?.stop();
    expect(stack?.leftovers() ?? []).toEqual([]);
  }, 180_000);

  const get = (key: string | undefined, path = "/v1/leads"): Promise<Reply> =>
    send(`${stack.envoyUrl}${path}`, { headers: key === undefined ? {} : { "x-api-key": key } });
  /**
   * Envoy answers with Sluice's headers several times running. Envoy re-resolves the service names
   * every 5 s, and a container joining or leaving the network makes aardvark-dns reload, so the
   * first answers after a (re)start may still fail open or miss the upstream (503).
   */
  const enforcing = () => {
    let streak = 0;
    return until(
      async () => {
        const reply = await get(PROBE);
        streak = reply.status === 200 && rateLimitHeaders(reply).limit === 1000 ? streak + 1 : 0;
        return streak >= 3;
      },
      60_000,
      "rate-limited answers through Envoy",
    );
  };
  const envoyStat = async (name: string): Promise<number> => {
    const text = await (await fetch(`${stack.envoyAdminUrl}/stats?filter=^${name}$`)).text();
    return Number(/: (\d+)/.exec(text)?.[1] ?? 0);
  };

  it("answers a known key with X-RateLimit-* headers and refuses a missing or unknown key with 401", async () => {
    const reply = await get(PROBE, "/v1/contacts");
    expect(reply.status).toBe(200);
    expect(rateLimitHeaders(reply)).toMatchObject({ limit: 1000 });
    expect((await get(undefined)).status).toBe(401);
    expect((await get("no-such-key")).status).toBe(401);
  });

  it("counts two keys of one Free tenant together and refuses the 21st with 429, Retry-After and JSON", async () => {
    for (let n = 1; n <= 20; n++) {
      const reply = await get(ACME[n % 2]);
      expect(reply.status, `request ${n}`).toBe(200);
      expect(rateLimitHeaders(reply)).toMatchObject({ limit: 20, remaining: 20 - n });
    }
    const refused = await get(ACME[0]);
    expect(refused.status).toBe(429);
    expect(rateLimitHeaders(refused)).toMatchObject({ limit: 20, remaining: 0 });
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(120);
    expect(refused.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(refused.body)).toMatchObject({ error: "rate_limited" });
    // The other key is refused too; refused requests count, so its Retry-After is the one to wait.
    const again = await get(ACME[1]);
    expect(again.status).toBe(429);
    retryAt = Date.now() + Number(again.headers["retry-after"]) * 1000;
  });

  it("queues a Starter tenant's 6th in-flight request for 500 ms, then refuses it with 429", async () => {
    const slow = Array.from({ length: 5 }, () => get(GLOBEX, "/v1/contacts?delay_ms=8000"));
    // Slow enough that a loaded CI box sees all 5 in flight before the first ends.
    await until(async () => (await upstreamInFlight()) >= 5, 6_000, "5 requests in flight");
    const started = performance.now();
    const refused = await get(GLOBEX, "/v1/contacts");
    const waitedMs = performance.now() - started;
    expect(refused.status).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refused.body)).toMatchObject({ error: "concurrency_limited", limit_value: 5 });
    expect(waitedMs).toBeGreaterThanOrEqual(450);
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    // Each release came back with its stream's end: the tenant has all 5 slots again.
    expect((await get(GLOBEX, "/v1/contacts")).status).toBe(200);
  });

  it("has Prometheus, in its container, scrape Sluice's decisions and Envoy's rate-limit stats", async () => {
    const query = async (promql: string): Promise<number> => {
      const url = `${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`;
      const body = (await (await fetch(url)).json()) as { data: { result: { value: [number, string] }[] } };
      return Number(body.data.result[0]?.value[1] ?? Number.NaN);
    };
    // The scrape interval is 15 s.
    await until(
      async () => (await query('sum(sluice_requests_total{domain="api",code="OVER_LIMIT"})')) >= 2,
      60_000,
      "Sluice's OVER_LIMIT count in Prometheus",
    );
    expect(await query('up{job="sluice"}')).toBe(1);
    await until(
      async () => (await query("envoy_cluster_ratelimit_over_limit")) >= 2,
      60_000,
      "Envoy's over_limit count in Prometheus",
    );
  }, 150_000);

  it("lets the Free tenant back in once its Retry-After has passed", async () => {
    await sleep(Math.max(0, retryAt - Date.now()) + 500);
    const reply = await get(ACME[1]);
    expect(reply.status).toBe(200);
    expect(rateLimitHeaders(reply).limit).toBe(20);
  }, 150_000);

  it("fails open while the Sluice container is stopped, and enforces again once it is started", async () => {
    const allowedBefore = await envoyStat("cluster.upstream.ratelimit.failure_mode_allowed");
    await stack.stopService("sluice");
    for (const key of ACME) {
      const reply = await get(key);
      expect(reply.status).toBe(200);
      expect(rateLimitHeaders(reply).limit).toBeUndefined();
    }
    expect(await envoyStat("cluster.upstream.ratelimit.failure_mode_allowed")).toBeGreaterThanOrEqual(
      allowedBefore + 2,
    );

    await stack.startService("sluice");
    await until(() => stack.healthy("sluice"), 60_000, "healthy Sluice after its start");
    await enforcing();
    // The counters lived in Redis: the tenant is still near its limit, and soon refused again.
    const statuses: number[] = [];
    for (let n = 0; n < 25 && statuses.at(-1) !== 429; n++) statuses.push((await get(ACME[0])).status);
    expect(statuses.at(-1)).toBe(429);
  }, 150_000);

  /** Requests the sample upstream is serving now, from its /_stats inside its container. */
  async function upstreamInFlight(): Promise<number> {
    const script = "fetch('http://127.0.0.1:8080/_stats').then((r) => r.text()).then((t) => console.log(t))";
    const stats = JSON.parse(await stack.exec("upstream", ["node", "-e", script])) as { inFlight: number };
    return stats.inFlight;
  }
});
