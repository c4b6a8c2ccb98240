import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth } from "../support/health-client.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

const POLICIES = "test/fixtures/reliability";

/** `/readyz` and `/healthz` as a kubelet sees them: the status code and the body's one line. */
async function probe(sluice: SluiceProcess, path: "/readyz" | "/healthz"): Promise<string> {
  const response = await fetch(`${sluice.adminUrl}${path}`);
  return `${response.status} ${(await response.text()).trim()}`;
}

/** Whether `/readyz` and gRPC health say the same thing: "ready" or "not ready". */
async function readiness(sluice: SluiceProcess): Promise<{ readyz: string; grpc: string }> {
  const readyz = (await fetch(`${sluice.adminUrl}/readyz`)).status === 200 ? "ready" : "not ready";
  const grpc = (await checkHealth(sluice.grpcAddress, "")) === "SERVING" ? "ready" : "not ready";
  return { readyz, grpc };
}

describe("/readyz and gRPC health agree on whether an instance can answer calls", () => {
  let redis: RedisServer;
  /**
   * Only a domain that follows the service's `unavailable`: no call can be answered without Redis.
   * Two workers behind the primary's one admin port, as the product runs with Redis by default.
   */
  let strict: SluiceProcess;
  /** The same policy with `--failure-policy allow`: every call is answered, Redis or not. */
  let lenient: SluiceProcess;
  let strictClient: RlsClient;
  const request = {
    domain: "rel-default",
    descriptors: [{ entries: [{ key: "user", value: `readiness-${process.pid}-${Date.now()}` }] }],
  };

  beforeAll(async () => {
    redis = await startRedis();
    const args = ["--policy", `${POLICIES}/default.yaml`, "--redis-url", redis.url];
    strict = await startSluice([...args, "--workers", "2"]);
    lenient = await startSluice([...args, "--failure-policy", "allow"]);
    strictClient = createRlsClient(strict.grpcAddress);
  });

  afterAll(async () => {
    strictClient?.close();
    await strict?.stop();
    await lenient?.stop();
    await redis?.stop();
  });

  it("are both ready while Redis answers", async () => {
    await expect.poll(() => readiness(strict)).toEqual({ readyz: "ready", grpc: "ready" });
    await expect.poll(() => readiness(lenient)).toEqual({ readyz: "ready", grpc: "ready" });
    expect(await probe(strict, "/readyz")).toBe("200 ready");
  });

  it("are both not ready where every call fails UNAVAILABLE, while liveness stays up", async () => {
    const port = redis.port;
    await redis.stop();
    await expect(strictClient.shouldRateLimit(request)).rejects.toMatchObject({ code: status.UNAVAILABLE });

    await expect
      .poll(() => readiness(strict), { timeout: 5_000 })
      .toEqual({ readyz: "not ready", grpc: "not ready" });
    expect(await probe(strict, "/readyz")).toMatch(/^503 worker \d+: counter store unreachable/);
    // Liveness is about the process, never the store: a restart would not bring Redis back.
    expect(await probe(strict, "/healthz")).toBe("200 ok");
    // `allow` answers every call without Redis, so that instance stays ready on both.
    await expect
      .poll(async () => (await fetch(`${lenient.adminUrl}/metrics`)).text(), { timeout: 5_000 })
      .toContain("sluice_store_up 0");
    expect(await readiness(lenient)).toEqual({ readyz: "ready", grpc: "ready" });

    redis = await startRedis({ port });
  });

  it("are both ready again once Redis returns", async () => {
    await expect
      .poll(() => readiness(strict), { timeout: 10_000 })
      .toEqual({ readyz: "ready", grpc: "ready" });
    expect((await strictClient.shouldRateLimit(request)).overall_code).toBe("OK");
  });
});
