import { describe, expect, it } from "vitest";
import type { Decision } from "../../limiter/limiter-types.ts";
import { durationJson, rateLimitResponseJson } from "./rate-limit-response-json.ts";

const base: Decision = { code: "OK", statuses: [], responseHeaders: [], requestHeaders: [], outcomes: [] };

describe("rateLimitResponseJson: the reference's /json answer (protojson of RateLimitResponse)", () => {
  it("writes what envoyproxy/ratelimit writes for a limited and an unlimited descriptor", () => {
    const decision: Decision = {
      ...base,
      statuses: [
        {
          code: "OK",
          currentLimit: { requestsPerUnit: 10, unit: "hour" },
          limitRemaining: 9,
          durationUntilResetMs: 807_000,
        },
        { code: "OK", limitRemaining: 0 },
      ],
    };
    // The reference's own answer, less protojson's random spaces.
    expect(rateLimitResponseJson(decision)).toEqual(
      JSON.parse(
        '{"overallCode":"OK","statuses":[{"code":"OK","currentLimit":{"requestsPerUnit":10,"unit":"HOUR"},"limitRemaining":9,"durationUntilReset":"807s"},{"code":"OK"}]}',
      ),
    );
  });

  it("leaves zero values out, as the reference's limit of 0 shows", () => {
    const decision: Decision = {
      ...base,
      code: "OVER_LIMIT",
      statuses: [
        {
          code: "OVER_LIMIT",
          currentLimit: { requestsPerUnit: 0, unit: "minute" },
          limitRemaining: 0,
          durationUntilResetMs: 27_000,
        },
      ],
    };
    expect(rateLimitResponseJson(decision)).toEqual({
      overallCode: "OVER_LIMIT",
      statuses: [{ code: "OVER_LIMIT", currentLimit: { unit: "MINUTE" }, durationUntilReset: "27s" }],
    });
  });

  it("carries names, headers and the body (base64)", () => {
    const decision: Decision = {
      ...base,
      code: "OVER_LIMIT",
      statuses: [
        {
          code: "OVER_LIMIT",
          currentLimit: { requestsPerUnit: 5, unit: "second", name: "n" },
          limitRemaining: 0,
        },
      ],
      responseHeaders: [{ key: "retry-after", value: "1" }],
      body: new TextEncoder().encode("{}"),
    };
    expect(rateLimitResponseJson(decision)).toEqual({
      overallCode: "OVER_LIMIT",
      statuses: [{ code: "OVER_LIMIT", currentLimit: { requestsPerUnit: 5, unit: "SECOND", name: "n" } }],
      responseHeadersToAdd: [{ key: "retry-after", value: "1" }],
      rawBody: "e30=",
    });
  });

  it.each([
    [59_000, "59s"],
    [1_250, "1.250s"],
    [0, "0s"],
    [999.6, "1s"],
  ])("durationJson(%d) = %s", (ms, text) => {
    expect(durationJson(ms)).toBe(text);
  });
});
