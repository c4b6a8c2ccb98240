import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, headersOf, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

const POLICY = "test/fixtures/exactness/exact.yaml"; // tenant: 100 per hour
const HOUR_S = 3_600;
const CALLS = 1_025;

/**
 * Costs a client can steer (Envoy's hits_addend from a header) at the top of the safe range: every
 * call gets a decision, Redis never overflows or keeps partial increments, and a refused call adds
 * at most the limit, so no call locks its key for more than two windows.
 */
describe("hostile costs against a real Redis", () => {
  let redis: RedisServer;
  let admin: Redis;
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    sluice = await startSluice(["--policy", POLICY, "--redis-url", redis.url, "--local-cache-size", "0"]);
    client = createRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    admin?.disconnect();
    await sluice?.stop();
    await redis?.stop();
  });

  const call = (tenant: string, cost?: string) =>
    client.shouldRateLimit({
      domain: "exact",
      descriptors: [
        {
          entries: [{ key: "tenant", value: tenant }],
          ...(cost === undefined ? {} : { hits_addend: { value: cost as unknown as number } }),
        },
      ],
    });

  it(`answers ${CALLS} calls of cost 2^53 - 1 with OVER_LIMIT, and the key clears within two windows`, async () => {
    const tenant = `huge-${Date.now()}`;
    const codes = new Map<string, number>();
    for (let sent = 0; sent < CALLS; sent += 25) {
      const replies = await Promise.all(
        Array.from({ length: 25 }, () => call(tenant, String(Number.MAX_SAFE_INTEGER))),
      );
      for (const r of replies) codes.set(r.overall_code, (codes.get(r.overall_code) ?? 0) + 1);
    }
    expect(Object.fromEntries(codes)).toEqual({ OVER_LIMIT: 1_025 });

    // Each refusal added the limit (100), not its cost: far from int64, and no partial writes.
    const keys = await admin.keys("sluice:*");
    const values = (await Promise.all(keys.map((k) => admin.get(k)))).map(Number);
    expect(values).toEqual([CALLS * 100]);

    const next = await call(tenant);
    expect(next.overall_code).toBe("OVER_LIMIT");
    const retryAfter = Number(headersOf(next.response_headers_to_add)["retry-after"]);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(2 * HOUR_S);
  });
});
