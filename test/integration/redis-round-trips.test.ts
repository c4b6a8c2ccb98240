import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

/** Calls of each command Redis has run since the last CONFIG RESETSTAT, from INFO commandstats. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) {
    calls.set(match[1] as string, Number(match[2]));
  }
  return calls;
}

// Counts what reaches Redis, through the real service: one script call per decision, however
// many descriptors and windows it charges, and none while a refused call is in the local cache.
describe("Redis round trips per decision", () => {
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

  it("runs one script per decision and none for a call cached as over limit until its Retry-After", async () => {
    // A first call loads the script (EVALSHA answered NOSCRIPT, then EVAL); count from after it.
    await call("warm-up");
    await admin.config("RESETSTAT");

    const replies = [];
    for (let i = 0; i < 30; i++) replies.push(await call("round-trips"));
    // Free bulk: 10 a minute, so 10 OK; the 11th is refused by Redis, the other 19 by the cache.
    expect(replies.filter((r) => r.overall_code === "OK")).toHaveLength(10);
    const retryAfter = replies
      .slice(10)
      .map((r) => r.response_headers_to_add.find((h) => h.key === "Retry-After"));
    expect(retryAfter.every((h) => h !== undefined && Number(h.value) > 0)).toBe(true);

    const calls = await commandCalls(admin);
    const scripts = (calls.get("evalsha") ?? 0) + (calls.get("eval") ?? 0);
    expect(scripts).toBe(11);
  });
});
