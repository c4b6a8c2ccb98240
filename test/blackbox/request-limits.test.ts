import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { createRlsClient, type RlsRequest } from "../support/rls-client.ts";
import { startSluice } from "../support/sluice-process.ts";
import { useSluice } from "../support/use-sluice.ts";

const entry = (value = "acme") => ({ key: "api_key", value });
const request = (descriptors: RlsRequest["descriptors"], domain = "api"): RlsRequest => ({
  domain,
  descriptors,
});

describe("request size limits over gRPC (defaults)", () => {
  const suite = useSluice(["--policy", "deploy/policies/api.yaml"]);

  it.each([
    [
      "65 descriptors",
      request(Array.from({ length: 65 }, () => ({ entries: [entry()] }))),
      "limit of 64 descriptors per request",
    ],
    [
      "17 entries in a descriptor",
      request([{ entries: Array.from({ length: 17 }, () => entry()) }]),
      "limit of 16 entries per descriptor",
    ],
    ["a 257-byte domain", request([{ entries: [entry()] }], "d".repeat(257)), "domain: 257 bytes"],
    [
      "a 257-byte key",
      request([{ entries: [{ key: "k".repeat(257), value: "v" }] }]),
      "key: 257 bytes exceed the limit of 256 (max key bytes)",
    ],
    [
      "a 1025-byte value",
      request([{ entries: [entry("v".repeat(1025))] }]),
      "value: 1025 bytes exceed the limit of 1024 (max value bytes)",
    ],
  ])("answers INVALID_ARGUMENT naming the limit for %s", async (_name, tooBig, message) => {
    const error = await suite.client.shouldRateLimit(tooBig).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((error as Error).message).toContain(message);
  });

  it("refuses a message over 64 KiB without decoding it, with INVALID_ARGUMENT naming the limit", async () => {
    // Every descriptor and value is within its own limit; only the whole message is too big.
    const big = request(
      Array.from({ length: 64 }, (_, i) => ({ entries: [entry(`${i}`.padEnd(1024, "v"))] })),
    );
    const error = await suite.client.shouldRateLimit(big).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((error as Error).message).toMatch(/request message is \d+ bytes, over the limit of 65536 bytes/);
  });

  it("leaves a message over the 4 MiB ceiling to grpc-js, which refuses it unread with RESOURCE_EXHAUSTED", async () => {
    const huge = request(
      Array.from({ length: 5 }, (_, i) => ({ entries: [entry(`${i}`.padEnd(1024 * 1024, "v"))] })),
    );
    await expect(suite.client.shouldRateLimit(huge)).rejects.toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
    });
  });

  it("keeps answering well-formed calls after refusing oversized ones", async () => {
    const reply = await suite.client.shouldRateLimit(request([{ entries: [entry(`after-${Date.now()}`)] }]));
    expect(reply.overall_code).toBe("OK");
  });
});

describe("request size limits over gRPC (configured)", () => {
  it("applies limits set by flags", async () => {
    const sluice = await startSluice([
      "--policy",
      "deploy/policies/api.yaml",
      "--max-descriptors",
      "2",
      "--max-value-bytes",
      "8",
    ]);
    const client = createRlsClient(sluice.grpcAddress);
    try {
      const three = request([{ entries: [entry()] }, { entries: [entry()] }, { entries: [entry()] }]);
      await expect(client.shouldRateLimit(three)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
      const long = request([{ entries: [entry("123456789")] }]);
      await expect(client.shouldRateLimit(long)).rejects.toThrow("limit of 8 (max value bytes)");
      expect((await client.shouldRateLimit(request([{ entries: [entry("12345678")] }]))).overall_code).toBe(
        "OK",
      );
    } finally {
      client.close();
      await sluice.stop();
    }
  });
});
