import { describe, expect, it } from "vitest";
import type { Header, HeaderStyle } from "./limiter-types.ts";
import { rateLimitHeaders } from "./rate-limit-headers.ts";
import type { WindowReport } from "./window-report.ts";

// t = 1_700_000_010_250 ms: 30.25 s into a minute slot that ends at 1_700_000_040 s.
const NOW = 1_700_000_010_250;

const minuteWindow: WindowReport = {
  ruleId: "free",
  mode: "enforced",
  unit: "minute",
  name: "free-per-minute",
  limit: 20,
  windowMs: 60_000,
  estimate: 12,
  remaining: 8,
  resetMs: 29_750,
  passed: true,
  retryAfterSeconds: undefined,
};
const failing: WindowReport = {
  ...minuteWindow,
  estimate: 21,
  remaining: 0,
  passed: false,
  retryAfterSeconds: 36,
};
const hopeless: WindowReport = { ...failing, retryAfterSeconds: undefined };

const asObject = (headers: readonly Header[]) => Object.fromEntries(headers.map((h) => [h.key, h.value]));

describe("rateLimitHeaders", () => {
  const cases: [string, HeaderStyle, "OK" | "OVER_LIMIT", WindowReport, Record<string, string>][] = [
    [
      "x-ratelimit on OK: reset at the end of the current slot",
      "x-ratelimit",
      "OK",
      minuteWindow,
      { "X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "8", "X-RateLimit-Reset": "1700000040" },
    ],
    [
      "x-ratelimit on OVER_LIMIT: reset at t + Retry-After, rounded up",
      "x-ratelimit",
      "OVER_LIMIT",
      failing,
      {
        "X-RateLimit-Limit": "20",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": String(1_700_000_011 + 36),
        "Retry-After": "36",
      },
    ],
    [
      "x-ratelimit on OVER_LIMIT that no wait clears: no Retry-After, reset at slot end",
      "x-ratelimit",
      "OVER_LIMIT",
      hopeless,
      { "X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000040" },
    ],
    [
      "draft on OK",
      "draft",
      "OK",
      minuteWindow,
      { "RateLimit-Policy": "20;w=60", RateLimit: "limit=20, remaining=8, reset=30" },
    ],
    [
      "draft on OVER_LIMIT: reset is the Retry-After",
      "draft",
      "OVER_LIMIT",
      failing,
      { "RateLimit-Policy": "20;w=60", RateLimit: "limit=20, remaining=0, reset=36", "Retry-After": "36" },
    ],
    [
      "envoy-ratelimit on OK: envoyproxy/ratelimit's names, reset in seconds from now",
      "envoy-ratelimit",
      "OK",
      minuteWindow,
      { "RateLimit-Limit": "20", "RateLimit-Remaining": "8", "RateLimit-Reset": "30" },
    ],
    [
      "envoy-ratelimit on OVER_LIMIT: reset is the Retry-After, which Sluice adds",
      "envoy-ratelimit",
      "OVER_LIMIT",
      failing,
      { "RateLimit-Limit": "20", "RateLimit-Remaining": "0", "RateLimit-Reset": "36", "Retry-After": "36" },
    ],
    ["none on OK", "none", "OK", minuteWindow, {}],
    ["none on OVER_LIMIT: not even Retry-After", "none", "OVER_LIMIT", failing, {}],
  ];
  it.each(cases)("%s", (_name, style, code, binding, expected) => {
    const headers = rateLimitHeaders({ style, code, binding, nowMs: NOW, upstreamHeaders: false });
    expect(asObject(headers.responseHeaders)).toEqual(expected);
    expect(headers.requestHeaders).toEqual([]);
  });

  it("names the envoy-ratelimit headers as LIMIT_*_HEADER rename them", () => {
    const headers = rateLimitHeaders({
      style: "envoy-ratelimit",
      code: "OK",
      binding: minuteWindow,
      nowMs: NOW,
      upstreamHeaders: false,
      names: { limit: "X-Limit", remaining: "X-Left", reset: "X-Reset-In" },
    });
    expect(asObject(headers.responseHeaders)).toEqual({ "X-Limit": "20", "X-Left": "8", "X-Reset-In": "30" });
  });

  it("sends nothing when no enforced window exists", () => {
    const headers = rateLimitHeaders({
      style: "x-ratelimit",
      code: "OK",
      binding: undefined,
      nowMs: NOW,
      upstreamHeaders: true,
    });
    expect(headers).toEqual({ responseHeaders: [], requestHeaders: [] });
  });

  it("copies the figures to the upstream on OK when asked", () => {
    for (const style of ["x-ratelimit", "draft", "envoy-ratelimit"] as const) {
      const headers = rateLimitHeaders({
        style,
        code: "OK",
        binding: minuteWindow,
        nowMs: NOW,
        upstreamHeaders: true,
      });
      expect(headers.requestHeaders).toEqual(headers.responseHeaders);
      expect(headers.requestHeaders.length).toBeGreaterThan(0);
    }
  });

  it("sends no upstream headers on OVER_LIMIT, since the request does not go upstream", () => {
    const headers = rateLimitHeaders({
      style: "x-ratelimit",
      code: "OVER_LIMIT",
      binding: failing,
      nowMs: NOW,
      upstreamHeaders: true,
    });
    expect(headers.requestHeaders).toEqual([]);
  });

  it("rounds the reset up when t falls on a whole second", () => {
    const headers = rateLimitHeaders({
      style: "x-ratelimit",
      code: "OVER_LIMIT",
      binding: failing,
      nowMs: 1_700_000_010_000,
      upstreamHeaders: false,
    });
    expect(asObject(headers.responseHeaders)["X-RateLimit-Reset"]).toBe(String(1_700_000_010 + 36));
  });
});
