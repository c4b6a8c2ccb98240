import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, headersOf, type RlsClient, type RlsReply } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

const POLICY = "test/fixtures/local-cache/retry-loop.yaml";
const HITS = 15;
/** The cache's bound on how long refused hits it answered stay uncounted in Redis, plus slack. */
const FLUSH_SETTLED_MS = 500;

/**
 * The local over-limit cache answers refused calls without Redis; with count_rejected (the default)
 * those refusals must still count. Two instances on one Redis, one with the cache (the default) and
 * one without, each driven by its own client in the same tight retry loop, must answer alike —
 * codes, remaining and Retry-After — and Redis must end up holding the same counts.
 */
describe("the local over-limit cache keeps count_rejected", () => {
  let redis: RedisServer;
  let cached: SluiceProcess;
  let uncached: SluiceProcess;
  let viaCache: RlsClient;
  let direct: RlsClient;

  beforeAll(async () => {
    redis = await startRedis();
    [cached, uncached] = await Promise.all([
      startSluice(["--policy", POLICY, "--redis-url", redis.url]),
      startSluice(["--policy", POLICY, "--redis-url", redis.url, "--local-cache-size", "0"]),
    ]);
    viaCache = createRlsClient(cached.grpcAddress);
    direct = createRlsClient(uncached.grpcAddress);
  });

  afterAll(async () => {
    viaCache?.close();
    direct?.close();
    await Promise.all([cached?.stop(), uncached?.stop()]);
    await redis?.stop();
  });

  const call = (client: RlsClient, id: string, hits?: number) =>
    client.shouldRateLimit({
      domain: "retry",
      descriptors: [
        { entries: [{ key: "tenant", value: `t-${id}` }], ...cost(hits) },
        { entries: [{ key: "apikey", value: `k-${id}` }], ...cost(hits) },
      ],
    });
  /** A descriptor's own hits_addend (0 checks without counting); the request's default of 1 otherwise. */
  const cost = (hits: number | undefined) => (hits === undefined ? {} : { hits_addend: { value: hits } });
  const retryAfter = (reply: RlsReply) => Number(headersOf(reply.response_headers_to_add)["retry-after"]);
  const remaining = (reply: RlsReply) => reply.statuses.map((s) => s.limit_remaining);

  it("answers a retry loop with the cache as without it, and Redis counts every refusal", async () => {
    const stamp = `${Date.now()}`;
    const withCache = `c-${stamp}`;
    const withoutCache = `d-${stamp}`;
    for (let n = 1; n <= HITS; n++) {
      const [a, b] = await Promise.all([call(viaCache, withCache), call(direct, withoutCache)]);
      expect(a.overall_code, `hit ${n}`).toBe(b.overall_code);
      expect(remaining(a), `hit ${n}`).toEqual(remaining(b));
      if (n > 10) {
        // The two calls are a few ms apart: Retry-After (whole seconds) may differ by one.
        expect(Math.abs(retryAfter(a) - retryAfter(b)), `hit ${n}`).toBeLessThanOrEqual(1);
      }
    }
    await sleep(FLUSH_SETTLED_MS);
    // Seen from the other instance, through Redis, with a check that adds nothing.
    const seen = await call(direct, withCache, 0);
    const reference = await call(direct, withoutCache, 0);
    expect(remaining(seen)).toEqual(remaining(reference));
    expect(remaining(seen)).toEqual([0, 1000 - HITS]);
  });
});
