import { describe, expect, it } from "vitest";
import { RateLimitResponse } from "../../generated/envoy/service/ratelimit/v3/rls.ts";
import type { Decision, DescriptorStatus, Header } from "../../limiter/limiter-types.ts";
import type { Unit } from "../../policy/units.ts";
import { encodeDecision } from "./encode-decision.ts";
import { toRateLimitResponse } from "./proto-mapping.ts";

/** What the generated code makes of the same decision: the bytes encodeDecision must match. */
const generated = (decision: Decision) =>
  Buffer.from(RateLimitResponse.encode(toRateLimitResponse(decision)).finish());

const UNITS: Unit[] = ["second", "minute", "hour", "day", "week", "month", "year"];
const TEXTS = ["", "a", "X-RateLimit-Remaining", "ünïcødé ✓", "\ud800 lone", "x".repeat(200), "0"];
const NUMBERS = [0, 1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 31 - 1, 2 ** 31, 4_294_967_295];

/** A deterministic pseudo-random sequence, so a failure reproduces. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function decisionFrom(next: () => number): Decision {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const header = (): Header => ({ key: pick(TEXTS), value: pick(TEXTS) });
  const status = (): DescriptorStatus => ({
    code: next() < 0.7 ? "OK" : "OVER_LIMIT",
    currentLimit:
      next() < 0.2
        ? undefined
        : { requestsPerUnit: pick(NUMBERS), unit: pick(UNITS), name: pick([undefined, ...TEXTS]) },
    limitRemaining: pick(NUMBERS),
    durationUntilResetMs: pick([undefined, 0, 1, 999, 1000, 59_999.5, 86_400_000, 31_536_000_000]),
  });
  const list = <T>(make: () => T, max: number) =>
    Array.from({ length: Math.floor(next() * (max + 1)) }, make);
  return {
    code: next() < 0.5 ? "OK" : "OVER_LIMIT",
    statuses: list(status, 5),
    responseHeaders: list(header, 5),
    requestHeaders: list(header, 3),
    body: next() < 0.5 ? undefined : Buffer.from(pick(TEXTS)),
    outcomes: [],
  };
}

describe("encodeDecision", () => {
  it("writes the same bytes as the generated encoder, for 5,000 varied decisions", () => {
    const next = random(42);
    for (let i = 0; i < 5_000; i++) {
      const decision = decisionFrom(next);
      expect(encodeDecision(decision).equals(generated(decision)), JSON.stringify(decision)).toBe(true);
    }
  });

  it("decodes back to the reply the mapping describes", () => {
    const decision: Decision = {
      code: "OVER_LIMIT",
      statuses: [
        {
          code: "OVER_LIMIT",
          currentLimit: { requestsPerUnit: 20, unit: "minute", name: "free_per_minute" },
          limitRemaining: 0,
          durationUntilResetMs: 12_345,
        },
        { code: "OK", limitRemaining: 4_294_967_295 },
      ],
      responseHeaders: [{ key: "Retry-After", value: "13" }],
      requestHeaders: [],
      body: Buffer.from('{"error":"rate limited"}'),
      outcomes: [],
    };
    expect(RateLimitResponse.decode(encodeDecision(decision))).toEqual(toRateLimitResponse(decision));
  });

  it("leaves values protobuf would not write as small varints to the generated encoder", () => {
    const base: Decision = {
      code: "OK",
      statuses: [],
      responseHeaders: [],
      requestHeaders: [],
      outcomes: [],
    };
    const negativeReset = {
      ...base,
      statuses: [{ code: "OK", limitRemaining: 1, durationUntilResetMs: -1500 }],
    };
    expect(encodeDecision(negativeReset as Decision).equals(generated(negativeReset as Decision))).toBe(true);
    const tooLarge = { ...base, statuses: [{ code: "OK", limitRemaining: 2 ** 32 }] } as Decision;
    expect(() => encodeDecision(tooLarge)).toThrow();
  });
});
