import { describe, expect, it } from "vitest";
import { mb, runSoak } from "./soak-run.ts";

const MB = 1024 * 1024;

/**
 * The CI soak: 60 s at half of the throughput measured here, on a real Redis. It fails on a clear
 * leak only: RSS or the heap floor growing by tens of MB once warm (at a few thousand calls a second
 * that is a few hundred bytes kept per call). `npm run soak` runs the 10-minute version.
 */
describe("soak (60 s)", () => {
  it("serves at half its throughput without its memory growing once warm", { timeout: 180_000 }, async () => {
    const report = await runSoak({
      durationMs: 60_000,
      warmupMs: 20_000,
      sampleEveryMs: 2_000,
      calibrateMs: 5_000,
    });
    const { growth } = report;
    console.log(
      `soak: ${report.calls} calls at ${report.achievedRps}/s (target ${report.targetRps}, max ${report.maxRps}), ` +
        `${report.errors} errors, ${report.skipped} skipped; RSS ${mb(growth.rssFirstBytes)} -> ${mb(growth.rssLastBytes)} ` +
        `(${mb(growth.rssGrowthBytes)}), heap floor ${mb(growth.heapFloorGrowthBytes)}`,
    );
    // The load really ran: most paced calls were sent and answered.
    expect(report.calls).toBeGreaterThan(report.targetRps * 60 * 0.5);
    expect(growth.samples).toBeGreaterThanOrEqual(15);
    expect(growth.rssGrowthBytes).toBeLessThan(64 * MB);
    // The heap saws by tens of MB between collections, so its floor gets the same generous bound.
    expect(growth.heapFloorGrowthBytes).toBeLessThan(64 * MB);
  });
});
