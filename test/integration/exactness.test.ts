import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

const POLICY = "test/fixtures/exactness/exact.yaml";
const INSTANCES = 3;
const REQUESTS = 2_000;
const LIMIT = 100;

// Three Sluice processes share one real redis-server: the check-and-charge script must make the
// admitted count exact however the requests interleave across instances.
describe("exactness across instances sharing Redis", () => {
  let redis: RedisServer;
  let sluices: SluiceProcess[] = [];
  let clients: RlsClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    sluices = await Promise.all(
      Array.from({ length: INSTANCES }, () => startSluice(["--policy", POLICY, "--redis-url", redis.url])),
    );
    clients = sluices.map((s) => createRlsClient(s.grpcAddress));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(sluices.map((s) => s.stop()));
    await redis?.stop();
  });

  it(`admits exactly ${LIMIT} of ${REQUESTS} concurrent requests on a fresh key`, async () => {
    const tenant = `fresh-${Date.now()}`;
    const replies = await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) =>
        (clients[i % INSTANCES] as RlsClient).shouldRateLimit({
          domain: "exact",
          descriptors: [{ entries: [{ key: "tenant", value: tenant }] }],
        }),
      ),
    );
    const admitted = replies.filter((r) => r.overall_code === "OK").length;
    const refused = replies.filter((r) => r.overall_code === "OVER_LIMIT").length;
    expect(admitted).toBe(LIMIT);
    expect(refused).toBe(REQUESTS - LIMIT);
  });
});
