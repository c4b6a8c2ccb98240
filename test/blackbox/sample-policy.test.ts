import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awayFromMinuteEnd } from "../support/minute-slot.ts";
import { createRlsClient, headersOf, type RlsClient, type RlsRequest } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

// Black-box: `sluice serve` as a process on the sample policy and the embedded store, driven by a
// client generated at run time from proto/.
describe("sluice serve on the sample policy (memory store)", () => {
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    sluice = await startSluice(["--policy", "deploy/policies"]);
    client = createRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    expect(await sluice?.stop()).toBe(0);
  });

  const planRequest = (tenant: string, plan: string): RlsRequest => ({
    domain: "api",
    descriptors: [
      {
        entries: [
          { key: "tenant", value: tenant },
          { key: "plan", value: plan },
        ],
      },
    ],
  });

  it("admits 20 Free requests in a minute, with headers counting down, and refuses the 21st", async () => {
    await awayFromMinuteEnd();
    const tenant = `free-${process.pid}-${Date.now()}`;
    for (let n = 1; n <= 20; n++) {
      const reply = await client.shouldRateLimit(planRequest(tenant, "free"));
      expect(reply.overall_code).toBe("OK");
      const headers = headersOf(reply.response_headers_to_add);
      expect(headers["x-ratelimit-limit"]).toBe("20");
      expect(headers["x-ratelimit-remaining"]).toBe(String(20 - n));
      const reset = Number(headers["x-ratelimit-reset"]);
      expect(reset % 60).toBe(0); // end of the current minute slot
      expect(reset).toBeGreaterThan(Date.now() / 1000 - 1);
      expect(headers["retry-after"]).toBeUndefined();
    }

    const refused = await client.shouldRateLimit(planRequest(tenant, "free"));
    expect(refused.overall_code).toBe("OVER_LIMIT");
    const status0 = refused.statuses[0];
    expect(status0?.code).toBe("OVER_LIMIT");
    expect(status0?.current_limit).toMatchObject({ requests_per_unit: 20, unit: "MINUTE" });
    expect(status0?.limit_remaining).toBe(0);

    const headers = headersOf(refused.response_headers_to_add);
    expect(headers["x-ratelimit-limit"]).toBe("20");
    expect(headers["x-ratelimit-remaining"]).toBe("0");
    // After accounting the minute slot holds 21 hits (refused hits count by default). The same
    // request passes once 21·(1 − f) + 1 ≤ 20 in the next slot, i.e. 2/21 of a minute into it.
    const untilReset =
      Number(status0?.duration_until_reset?.seconds) * 1000 +
      (status0?.duration_until_reset?.nanos ?? 0) / 1e6;
    const retryAfter = Number(headers["retry-after"]);
    expect(retryAfter).toBe(Math.ceil((untilReset + (60_000 * 2) / 21) / 1000));
    const reset = Number(headers["x-ratelimit-reset"]);
    expect(Math.abs(reset - (Date.now() / 1000 + retryAfter))).toBeLessThanOrEqual(2);
    expect(headers["content-type"]).toBe("application/json");
    expect(JSON.parse(refused.raw_body.toString("utf8"))).toMatchObject({ retry_after_seconds: retryAfter });
  });

  it("counts per tenant: another tenant on the same plan is unaffected", async () => {
    const reply = await client.shouldRateLimit(planRequest(`other-${Date.now()}`, "free"));
    expect(reply.overall_code).toBe("OK");
    expect(headersOf(reply.response_headers_to_add)["x-ratelimit-remaining"]).toBe("19");
  });

  it("applies each plan's minute window as the binding one", async () => {
    for (const [plan, limit] of [
      ["starter", "60"],
      ["pro", "300"],
      ["enterprise", "1000"],
    ] as const) {
      const reply = await client.shouldRateLimit(planRequest(`${plan}-${Date.now()}`, plan));
      expect(reply.overall_code).toBe("OK");
      expect(headersOf(reply.response_headers_to_add)["x-ratelimit-limit"]).toBe(limit);
    }
  });

  it("limits the health check per client IP at 60 per minute", async () => {
    await awayFromMinuteEnd();
    const ip = `10.0.${process.pid % 250}.${Date.now() % 250}`;
    const request: RlsRequest = {
      domain: "api",
      descriptors: [
        {
          entries: [
            { key: "route", value: "health" },
            { key: "remote_address", value: ip },
          ],
        },
      ],
    };
    const codes: string[] = [];
    for (let i = 0; i < 61; i++) codes.push((await client.shouldRateLimit(request)).overall_code);
    expect(codes.filter((c) => c === "OK")).toHaveLength(60);
    expect(codes.at(-1)).toBe("OVER_LIMIT");
  });

  it("answers OK with no limit for an unknown domain", async () => {
    const reply = await client.shouldRateLimit({
      domain: "no-such-domain",
      descriptors: [{ entries: [{ key: "tenant", value: "x" }] }],
    });
    expect(reply.overall_code).toBe("OK");
    expect(reply.statuses).toHaveLength(1);
    expect(reply.statuses[0]?.code).toBe("OK");
    expect(reply.statuses[0]?.current_limit).toBeNull();
    expect(reply.response_headers_to_add).toEqual([]);
  });

  it.each([
    [
      "an empty domain",
      { domain: "", descriptors: [{ entries: [{ key: "tenant", value: "x" }] }] },
      /domain/,
    ],
    ["no descriptors", { domain: "api", descriptors: [] }, /descriptor/],
    ["a descriptor with no entries", { domain: "api", descriptors: [{ entries: [] }] }, /entries/],
    [
      "an entry with an empty key",
      { domain: "api", descriptors: [{ entries: [{ key: "", value: "x" }] }] },
      /key/,
    ],
  ])("rejects %s with INVALID_ARGUMENT", async (_name, request, message) => {
    await expect(client.shouldRateLimit(request as RlsRequest)).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(message),
    });
  });

  it("reports SERVING on gRPC health, ready on /readyz, and decisions on /metrics", async () => {
    expect((await fetch(`${sluice.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${sluice.adminUrl}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${sluice.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/sluice_requests_total\{domain="api",code="OVER_LIMIT"\} [1-9]/);
    expect(metrics).toMatch(
      /sluice_decisions_total\{domain="api",rule="free_per_minute",code="OVER_LIMIT"\} [1-9]/,
    );
    expect(metrics).toMatch(/sluice_should_rate_limit_duration_seconds_bucket/);
  });
});
