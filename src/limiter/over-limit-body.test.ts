import { describe, expect, it } from "vitest";
import { overLimitResponse } from "./over-limit-body.ts";
import type { WindowReport } from "./window-report.ts";

const binding: WindowReport = {
  ruleId: "plan.free",
  mode: "enforced",
  unit: "minute",
  name: "free-per-minute",
  limit: 20,
  windowMs: 60_000,
  estimate: 21,
  remaining: 0,
  resetMs: 30_000,
  passed: false,
  retryAfterSeconds: 36,
};

const text = (body: Uint8Array) => new TextDecoder().decode(body);

describe("overLimitResponse", () => {
  it("names the binding limit, its window, value and Retry-After, with a JSON content type", () => {
    const response = overLimitResponse(binding);
    expect(text(response.body)).toBe(
      '{"error":"rate_limited","limit":"free-per-minute","window":"minute","limit_value":20,"retry_after_seconds":36}',
    );
    expect(response.headers).toEqual([{ key: "content-type", value: "application/json" }]);
  });

  it("falls back to the rule id for an unnamed limit, and to null when no wait helps", () => {
    const response = overLimitResponse({ ...binding, name: undefined, retryAfterSeconds: undefined });
    expect(JSON.parse(text(response.body))).toEqual({
      error: "rate_limited",
      limit: "plan.free",
      window: "minute",
      limit_value: 20,
      retry_after_seconds: null,
    });
  });

  it("keeps the same fields when no window explains the refusal", () => {
    expect(JSON.parse(text(overLimitResponse(undefined).body))).toEqual({
      error: "rate_limited",
      limit: null,
      window: null,
      limit_value: null,
      retry_after_seconds: null,
    });
  });
});
