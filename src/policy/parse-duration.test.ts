import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./parse-duration.ts";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["0ms", 0],
    ["60s", 60_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    [" 5s ", 5_000],
  ])("reads %s as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["500", "0.5s", "-1s", "5 s", "1d", "s", "", "1e3ms", "1234567890s"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it("writes the largest whole unit", () => {
    expect([0, 500, 1_000, 60_000, 90_000, 3_600_000].map(formatDuration)).toEqual([
      "0s",
      "500ms",
      "1s",
      "1m",
      "90s",
      "1h",
    ]);
  });
});
