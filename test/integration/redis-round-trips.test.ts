import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REFUSED_HITS_FLUSH_MS } from "../../src/cli/fast-path-options.ts";
import { slotTtlMs } from "../../src/store/counter-key.ts";
import { CHARGE_SCRIPT } from "../../src/store/redis-charge-script.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

const CALLS = 200;
/** Slot keys a refused call of the free plan counts in: tenant (minute, day), bulk route, API key. */
const SLOT_KEYS = 4;

/** Calls of each command Redis has run since the last CONFIG RESETSTAT, from INFO commandstats. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) {
    calls.set(match[1] as string, Number(match[2]));
  }
  return calls;
}

// What reaches Redis, through the real service: one script call per decision, however many
// descriptors and windows it charges, none while a refused call is in the local cache, and slot
// keys that expire.
describe("Redis round trips per decision and slot key lifetimes", () => {
  let redis: RedisServer;
  let admin: Redis;
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    sluice = await startSluice(["--policy", "deploy/policies", "--redis-url", redis.url]);
    client = createRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    admin?.disconnect();
    await redis?.stop();
  });

  const call = (tenant: string) =>
    client.shouldRateLimit({
      domain: "api",
      descriptors: [
        {
          entries: [
            { key: "tenant", value: tenant },
            { key: "plan", value: "free" },
          ],
        },
        {
          entries: [
            { key: "tenant", value: tenant },
            { key: "plan", value: "free" },
            { key: "route", value: "bulk" },
          ],
        },
        { entries: [{ key: "api_key", value: `${tenant}-key` }] },
      ],
    });

  it("has the scripts loaded in Redis before the first call, so a cold burst needs no EVAL", async () => {
    const sha = createHash("sha1").update(CHARGE_SCRIPT).digest("hex");
    const loaded = async () => ((await admin.script("EXISTS", sha)) as number[])[0] === 1;
    const deadline = Date.now() + 5_000;
    while (!(await loaded()) && Date.now() < deadline) await sleep(20);
    expect(await loaded()).toBe(true);
  });

  it("runs one script per decision, and for calls cached as over limit only a bounded write per counter", async () => {
    await call("warm-up");
    await admin.config("RESETSTAT");

    const started = Date.now();
    const replies = [];
    for (let i = 0; i < CALLS; i++) replies.push(await call("round-trips"));
    const elapsedMs = Date.now() - started;
    // Free bulk: 10 a minute, so 10 OK; the 11th is refused by Redis, the others by the cache.
    expect(replies.filter((r) => r.overall_code === "OK")).toHaveLength(10);
    const retryAfter = replies
      .slice(10)
      .map((r) => r.response_headers_to_add.find((h) => h.key === "Retry-After"));
    expect(retryAfter.every((h) => h !== undefined && Number(h.value) > 0)).toBe(true);

    // The cache's refusals still count (count_rejected): their hits reach Redis as one write per
    // slot key per flush interval, however many calls were refused meanwhile.
    await sleep(3 * REFUSED_HITS_FLUSH_MS);
    const calls = await commandCalls(admin);
    const scripts = (calls.get("evalsha") ?? 0) + (calls.get("eval") ?? 0);
    const writes = scripts - 11;
    const flushes = Math.ceil(elapsedMs / REFUSED_HITS_FLUSH_MS) + 2;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(SLOT_KEYS * flushes);
    expect(writes).toBeLessThan(CALLS - 11);
  });

  // Every slot key the charge and add scripts write must expire (or Redis fills up with dead slots),
  // but not before its last read: slot k is read as "previous" until the end of slot k + 1.
  it("gives every slot key a lifetime from the end of its next slot to 2W + margin after its first charge", async () => {
    // Admitted calls, refused calls answered by Redis and refused calls answered by the local cache
    // (their hits reach Redis later, through the add script), on fresh and on existing keys.
    for (let i = 0; i < 30; i++) {
      await client.shouldRateLimit({
        domain: "api",
        descriptors: [
          {
            entries: [
              { key: "tenant", value: `lifetimes-${i % 3}` },
              { key: "plan", value: "free" },
            ],
          },
          { entries: [{ key: "api_key", value: `lifetimes-key-${i % 2}` }] },
        ],
      });
    }
    await sleep(3 * REFUSED_HITS_FLUSH_MS);

    const keys = await admin.keys("sluice:{*}:*:*");
    // At least these calls' three tenants with a minute and a day window, two API keys with an hour window.
    expect(keys.length).toBeGreaterThanOrEqual(3 * 2 + 2);
    const [seconds = 0, micros = 0] = await admin.time();
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    for (const key of keys) {
      const [, windowMs, slot] = /:(\d+):(\d+)$/.exec(key)?.map(Number) as number[];
      const ttlMs = await admin.pttl(key);
      const expiresAt = nowMs + ttlMs;
      expect(ttlMs, key).toBeGreaterThan(0);
      expect(ttlMs, key).toBeLessThanOrEqual(slotTtlMs(windowMs as number));
      expect(expiresAt, key).toBeGreaterThanOrEqual(((slot as number) + 2) * (windowMs as number));
    }
  });
});
