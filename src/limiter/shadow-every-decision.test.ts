import { describe, expect, it } from "vitest";
import type { Decision } from "./limiter-types.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import { shadowEveryDecision } from "./shadow-every-decision.ts";

const refusal: Decision = {
  code: "OVER_LIMIT",
  statuses: [
    { code: "OK", limitRemaining: 3 },
    { code: "OVER_LIMIT", currentLimit: { requestsPerUnit: 2, unit: "minute" }, limitRemaining: 0 },
  ],
  responseHeaders: [
    { key: "X-RateLimit-Remaining", value: "0" },
    { key: "Retry-After", value: "12" },
    { key: "content-type", value: "application/json" },
  ],
  requestHeaders: [],
  body: new TextEncoder().encode('{"error":"rate_limited"}'),
  outcomes: [{ ruleId: "r", code: "OVER_LIMIT", shadow: false, usedFraction: 1.5 }],
};
const pass: Decision = { ...refusal, code: "OK", body: undefined };
const call = { domain: "d", descriptors: [], hitsAddend: 0 };
const answering = (decision: Decision | Promise<Decision>): RateLimiter => ({
  shouldRateLimit: () => decision,
});

describe("shadowEveryDecision", () => {
  it("answers a refusal OK without its headers and body, keeping statuses and outcomes for metrics", () => {
    expect(shadowEveryDecision(answering(refusal)).shouldRateLimit(call)).toEqual({
      ...refusal,
      code: "OK",
      responseHeaders: [],
      requestHeaders: [],
      body: undefined,
      shadowed: true,
    });
  });

  it("leaves an OK alone, and a decision that comes as a promise is shadowed the same", async () => {
    expect(shadowEveryDecision(answering(pass)).shouldRateLimit(call)).toBe(pass);
    await expect(
      shadowEveryDecision(answering(Promise.resolve(refusal))).shouldRateLimit(call),
    ).resolves.toMatchObject({
      code: "OK",
      shadowed: true,
    });
  });

  it("lets errors through: they are not decisions, and Envoy's failure mode answers them", async () => {
    const failing = answering(Promise.reject(new Error("store down")));
    await expect(shadowEveryDecision(failing).shouldRateLimit(call)).rejects.toThrow("store down");
  });
});
