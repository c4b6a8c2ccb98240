import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth } from "../support/health-client.ts";
import { createRlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

const run = promisify(execFile);
const GRPCURL = fileURLToPath(new URL("../../.tools/bin/grpcurl", import.meta.url));

/** The real grpcurl in plaintext, knowing the protos only through reflection. */
const describeSymbol = (address: string, symbol: string) =>
  run(GRPCURL, ["-plaintext", address, "describe", symbol]);
const callMethod = (address: string, method: string, body: unknown) =>
  run(GRPCURL, ["-plaintext", "-d", JSON.stringify(body), address, method]);

describe("service lifecycle", () => {
  let sluice: SluiceProcess;

  beforeAll(async () => {
    sluice = await startSluice(["--policy", "deploy/policies/api.yaml"]);
  });

  afterAll(async () => {
    await sluice?.stop();
  });

  it("reports SERVING on grpc.health.v1 for the server and the rate-limit services once ready", async () => {
    await expect.poll(() => checkHealth(sluice.grpcAddress, "")).toBe("SERVING");
    expect(await checkHealth(sluice.grpcAddress, "envoy.service.ratelimit.v3.RateLimitService")).toBe(
      "SERVING",
    );
    expect(
      await checkHealth(sluice.grpcAddress, "envoy.service.rate_limit_quota.v3.RateLimitQuotaService"),
    ).toBe("SERVING");
  });

  it("serves reflection, so grpcurl lists, describes and calls without proto files", async () => {
    const list = await run(GRPCURL, ["-plaintext", sluice.grpcAddress, "list"]);
    expect(list.stdout).toContain("envoy.service.ratelimit.v3.RateLimitService");
    expect(list.stdout).toContain("grpc.health.v1.Health");
    // RLQS is served on the same port, so reflection lists it and its messages describe.
    expect(list.stdout).toContain("envoy.service.rate_limit_quota.v3.RateLimitQuotaService");
    const strategy = await describeSymbol(sluice.grpcAddress, "envoy.type.v3.RateLimitStrategy");
    expect(strategy.stdout).toMatch(/\.envoy\.type\.v3\.TokenBucket token_bucket = 3;/);

    const described = await describeSymbol(
      sluice.grpcAddress,
      "envoy.extensions.common.ratelimit.v3.RateLimitDescriptor",
    );
    expect(described.stdout).toMatch(/\.google\.protobuf\.UInt64Value hits_addend = 3;/);

    const called = await callMethod(
      sluice.grpcAddress,
      "envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit",
      {
        domain: "api",
        descriptors: [{ entries: [{ key: "api_key", value: "grpcurl-key" }] }],
      },
    );
    expect(JSON.parse(called.stdout)).toMatchObject({ overallCode: "OK" });
  });

  it("serves a grpc.health.v1 descriptor grpcurl accepts: describe, and Health/Check through reflection", async () => {
    const health = await describeSymbol(sluice.grpcAddress, "grpc.health.v1.Health");
    expect(health.stdout).toContain("rpc Check ( .grpc.health.v1.HealthCheckRequest )");
    // A map field is valid only with its entry type nested, named `StatusesEntry` and marked
    // map_entry, as protoc writes it; protobufjs's reconstruction was refused for the whole file.
    const list = await describeSymbol(sluice.grpcAddress, "grpc.health.v1.HealthListResponse");
    expect(list.stdout).toMatch(/map<string, \.grpc\.health\.v1\.HealthCheckResponse> statuses = 1;/);

    const checked = await callMethod(sluice.grpcAddress, "grpc.health.v1.Health/Check", {
      service: "envoy.service.ratelimit.v3.RateLimitService",
    });
    expect(JSON.parse(checked.stdout)).toEqual({ status: "SERVING" });
  });
});

describe("graceful shutdown", () => {
  it("on SIGTERM stops accepting, answers every call it accepted, and exits 0", async () => {
    const sluice = await startSluice(["--policy", "deploy/policies/api.yaml"]);
    const client = createRlsClient(sluice.grpcAddress);
    const request = { domain: "api", descriptors: [{ entries: [{ key: "api_key", value: "shutdown" }] }] };
    await client.shouldRateLimit(request); // connected
    // SIGTERM goes out as soon as the first answer of a burst is back, so the server is mid-burst.
    let exit: Promise<number | null> | undefined;
    const calls = Array.from({ length: 300 }, () =>
      client.shouldRateLimit(request).then(
        (reply) => {
          exit ??= sluice.stop(10_000);
          return reply.overall_code;
        },
        (error: { code: number }) => `error ${error.code}`,
      ),
    );
    const outcomes = await Promise.all(calls);
    client.close();
    expect(await (exit ?? sluice.stop())).toBe(0);
    // Every call either got its answer or was refused as UNAVAILABLE (14) before it was accepted;
    // none was cut off mid-way (CANCELLED, INTERNAL).
    for (const outcome of outcomes) expect(["OK", "error 14"]).toContain(outcome);
    expect(outcomes).toContain("OK");
    expect(sluice.output()).toMatch(/"msg":"stopped"/);
  });
});
