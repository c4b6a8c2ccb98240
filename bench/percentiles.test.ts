import { describe, expect, it } from "vitest";
import { percentiles } from "./percentiles.ts";

describe("percentiles", () => {
  it("takes the nearest rank", () => {
    const samples = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(percentiles(samples)).toEqual({ p50: 500, p90: 900, p99: 990, p999: 999 });
  });

  it("answers the single sample for every percentile", () => {
    expect(percentiles([3])).toEqual({ p50: 3, p90: 3, p99: 3, p999: 3 });
  });

  it("answers NaN with no samples", () => {
    expect(Number.isNaN(percentiles([]).p50)).toBe(true);
  });
});
