import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

describe("a Redis outage under a running sluice serve", () => {
  let redis: RedisServer;
  let sluice: SluiceProcess;
  let client: RlsClient;
  const request = {
    domain: "api",
    descriptors: [{ entries: [{ key: "api_key", value: `outage-${Date.now()}` }] }],
  };

  beforeAll(async () => {
    redis = await startRedis();
    sluice = await startSluice(["--policy", "deploy/policies/api.yaml", "--redis-url", redis.url]);
    client = createRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    await redis?.stop();
  });

  it("answers UNAVAILABLE while Redis is down, keeps running, and recovers when it returns", async () => {
    expect((await client.shouldRateLimit(request)).overall_code).toBe("OK");

    const port = redis.port;
    await redis.stop();
    // UNAVAILABLE lets Envoy's failure_mode_deny decide; the process must not exit.
    await expect(client.shouldRateLimit(request)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    await expect(client.shouldRateLimit(request)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    const metrics = await (await fetch(`${sluice.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/sluice_call_errors_total\{kind="unavailable"\} [1-9]/);

    redis = await startRedis({ port });
    await expect
      .poll(
        () =>
          client.shouldRateLimit(request).then(
            (r) => r.overall_code,
            () => "error",
          ),
        {
          timeout: 15_000,
          interval: 200,
        },
      )
      .toBe("OK");
    await expect
      .poll(
        async () =>
          (await (await fetch(`${sluice.adminUrl}/metrics`)).text()).match(/sluice_store_up (\d)/)?.[1],
        { timeout: 5_000 },
      )
      .toBe("1");
  });
});
