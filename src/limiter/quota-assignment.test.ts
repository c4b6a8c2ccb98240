import { describe, expect, it } from "vitest";
import {
  ALLOW_ALL,
  ASSIGNMENT_TTL_SECONDS,
  assignQuota,
  fillRate,
  MIN_DENY_TTL_SECONDS,
  type QuotaWindow,
} from "./quota-assignment.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
/** 10 s into a minute slot, so the previous slot weighs 50/60. */
const NOW = 1_000 * MINUTE + 10_000;
const perMinute = (limit: number, current: number, previous = 0): QuotaWindow => ({
  limit,
  windowMs: MINUTE,
  current,
  previous,
});

describe("assignQuota", () => {
  it("allows all when no enforced window limits the bucket", () => {
    expect(assignQuota([], NOW, 3)).toBe(ALLOW_ALL);
    expect(ALLOW_ALL.ttlSeconds).toBe(ASSIGNMENT_TTL_SECONDS);
  });

  it.each([
    // limit, current, previous, streams → max tokens, tokens per fill, fill interval (s)
    [20, 1, 0, 1, 19, 1, 3],
    [20, 2, 0, 2, 9, 1, 6],
    [20, 3, 0, 2, 8, 1, 6], // 17 left: 8 each, never 8.5
    [20, 0, 12, 1, 10, 1, 3], // E = 12·50/60 = 10
    [600, 0, 0, 4, 150, 2, 1], // 10 a second over 4 streams: 2.5 → 2 each second
    [120, 0, 0, 1, 120, 2, 1],
    [7, 0, 0, 3, 2, 1, 26], // 1 token every ⌈180 ÷ 7⌉ s
  ])(
    "limit %i, c %i, p %i, %i stream(s): a token bucket of %i, %i per %i s",
    (limit, c, p, n, max, tokens, interval) => {
      expect(assignQuota([perMinute(limit, c, p)], NOW, n)).toEqual({
        kind: "token_bucket",
        ttlSeconds: ASSIGNMENT_TTL_SECONDS,
        maxTokens: max,
        tokensPerFill: tokens,
        fillIntervalSeconds: interval,
      });
    },
  );

  it("sizes the bucket from the tightest window and fills it at the slowest window's rate", () => {
    // Minute: 100 left at 100/min; hour: 5 left at 200/hour (the slower rate: 1 per 18 s).
    const windows = [perMinute(100, 0), { limit: 200, windowMs: HOUR, current: 195, previous: 0 }];
    expect(assignQuota(windows, NOW, 1)).toMatchObject({
      kind: "token_bucket",
      maxTokens: 5,
      fillIntervalSeconds: 18,
    });
  });

  it("denies all until the exhausted window admits one request again, whole seconds", () => {
    // c = 20 of 20, 10 s into the slot: the next slot starts in 50 s, then c·(1 − f) + 1 ≤ 20 needs
    // f ≥ 1/20, 3 s in: 53 s.
    expect(assignQuota([perMinute(20, 20)], NOW, 2)).toEqual({ kind: "deny_all", ttlSeconds: 53 });
  });

  it("denies all past the next report even when the window frees sooner", () => {
    // p = 24, c = 0, 10 s in: E = 20; one hit frees within a few seconds.
    const soon = assignQuota([perMinute(20, 0, 24)], NOW, 1);
    expect(soon).toEqual({ kind: "deny_all", ttlSeconds: MIN_DENY_TTL_SECONDS });
  });

  it("denies all when less is left than one token per stream, until the next reports", () => {
    expect(assignQuota([perMinute(20, 18)], NOW, 3)).toEqual({
      kind: "deny_all",
      ttlSeconds: MIN_DENY_TTL_SECONDS,
    });
  });

  it("denies all for a limit of 0, refreshed by each report", () => {
    expect(assignQuota([perMinute(0, 0)], NOW, 1)).toEqual({
      kind: "deny_all",
      ttlSeconds: ASSIGNMENT_TTL_SECONDS,
    });
  });

  it("denies all when reported usage went past the limit", () => {
    expect(assignQuota([perMinute(20, 26)], NOW, 1)).toMatchObject({ kind: "deny_all" });
  });

  it("treats a stream count under 1 as one stream", () => {
    expect(assignQuota([perMinute(20, 0)], NOW, 0)).toMatchObject({ maxTokens: 20 });
  });
});

describe("fillRate", () => {
  it.each([
    [60, MINUTE, 1, 1, 1],
    [61, MINUTE, 1, 1, 1],
    [59, MINUTE, 1, 1, 2],
    [20, MINUTE, 2, 1, 6],
    [1, HOUR, 1, 1, 3600],
    [10_000, 1_000, 3, 3333, 1],
  ])("%i per %i ms over %i stream(s): %i token(s) every %i s", (limit, windowMs, n, tokens, interval) => {
    expect(fillRate({ limit, windowMs }, n)).toEqual({
      tokensPerFill: tokens,
      fillIntervalSeconds: interval,
    });
  });
});
