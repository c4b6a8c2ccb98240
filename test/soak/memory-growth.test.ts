import { describe, expect, it } from "vitest";
import { type MemorySample, memoryGrowth } from "./memory-growth.ts";

const MB = 1024 * 1024;
/** One sample a second; heap saws between floor and floor + 20 MB. */
function samples(count: number, rss: (t: number) => number, floor: (t: number) => number): MemorySample[] {
  return Array.from({ length: count }, (_, t) => ({
    atMs: t * 1000,
    rssBytes: rss(t),
    heapUsedBytes: floor(t) + (t % 4) * 5 * MB,
  }));
}

describe("memoryGrowth", () => {
  it("reports no growth for flat memory, ignoring warm-up growth and GC saw-teeth", () => {
    // Warm-up: RSS climbs from 50 to 100 MB in the first 10 s, then stays.
    const flat = samples(
      60,
      (t) => (t < 10 ? 50 * MB + t * 5 * MB : 100 * MB),
      () => 30 * MB,
    );
    const growth = memoryGrowth(flat, 10_000);
    expect(growth.samples).toBe(50);
    expect(growth.rssGrowthBytes).toBe(0);
    expect(growth.heapFloorGrowthBytes).toBe(0);
  });

  it("sees a steady leak in both RSS and the heap floor", () => {
    const leaking = samples(
      60,
      (t) => 100 * MB + t * 2 * MB,
      (t) => 30 * MB + t * MB,
    );
    const growth = memoryGrowth(leaking, 10_000);
    expect(growth.rssGrowthBytes).toBeGreaterThan(60 * MB);
    expect(growth.heapFloorGrowthBytes).toBeGreaterThan(30 * MB);
  });

  it("is not fooled by one spike", () => {
    const spiky = samples(
      60,
      (t) => (t === 58 ? 400 * MB : 100 * MB),
      () => 30 * MB,
    );
    expect(memoryGrowth(spiky, 10_000).rssGrowthBytes).toBe(0);
  });

  it("refuses to judge from too few samples", () => {
    expect(() =>
      memoryGrowth(
        samples(
          5,
          () => MB,
          () => MB,
        ),
        4_000,
      ),
    ).toThrow("at least 3 samples");
  });
});
