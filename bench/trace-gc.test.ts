import { describe, expect, it } from "vitest";
import { summariseTraceGc } from "./trace-gc.ts";

// Lines as Node 24's `--trace-gc` prints them, trimmed after the pause.
const LOG = [
  "[7920:0x3e6c5000]     4051 ms: Scavenge 114.2 (192.3) -> 74.3 (198.1) MB, pooled: 0 MB, 12.72 / 0.00 ms  (average mu = 0.9) allocation failure;",
  '{"level":30,"msg":"not a gc line"}',
  "[7920:0x3e6c5000]     4290 ms: Scavenge 120.7 (198.8) -> 80.1 (204.8) MB, pooled: 0 MB, 14.33 / 0.00 ms  (average mu = 0.9) allocation failure;",
  "[7920:0x3e6c5000]     4530 ms: Scavenge 127.2 (205.3) -> 86.6 (210.8) MB, pooled: 0 MB, 18.13 / 0.00 ms  (average mu = 0.9) allocation failure;",
  "[7920:0x3e6c5000]     4700 ms: Mark-Compact 140.1 (215.0) -> 30.2 (190.0) MB, pooled: 0 MB, 25.50 / 0.00 ms  (average mu = 0.9) finalize incremental marking;",
  "[7920:0x3e6c5000]     4940 ms: Scavenge 79.3 (189.1) -> 33.8 (189.1) MB, pooled: 40 MB, 10.45 / 0.00 ms  (average mu = 0.9) allocation failure;",
  "[7920:0x3e6c5000]     5180 ms: Scavenge 80.5 (189.3) -> 40.3 (189.3) MB, pooled: 40 MB, 17.23 / 0.00 ms  (average mu = 0.9) allocation failure;",
].join("\n");

describe("summariseTraceGc", () => {
  it("counts scavenges and mark-compacts with their pauses", () => {
    const gc = summariseTraceGc(LOG);
    expect(gc.scavenges).toBe(5);
    expect(gc.scavengeMs).toBeCloseTo(12.72 + 14.33 + 18.13 + 10.45 + 17.23, 6);
    expect(gc.longestScavengeMs).toBe(18.13);
    expect(gc.markCompacts).toBe(1);
    expect(gc.markCompactMs).toBe(25.5);
  });

  it("takes the median growth between consecutive scavenges, not across a mark-compact", () => {
    // Growths 5.8, 6.5 before the mark-compact and 6.5 after it; 74.3 -> 33.8 is never compared.
    expect(summariseTraceGc(LOG).promotedPerScavengeMb).toBeCloseTo(6.5, 6);
  });

  it("reads a line without the pooled field (older Node)", () => {
    const gc = summariseTraceGc("[1:0x1]  10 ms: Scavenge 9.2 (10.1) -> 8.7 (11.1) MB, 1.67 / 0.00 ms  (mu)");
    expect(gc.scavenges).toBe(1);
    expect(gc.scavengeMs).toBe(1.67);
    expect(Number.isNaN(gc.promotedPerScavengeMb)).toBe(true);
  });

  it("counts V8's Minor Mark-Sweep (node --minor-ms) as a young-generation pause", () => {
    const gc = summariseTraceGc(
      "[1879:0x922e000]  22 ms: Minor Mark-Sweep 8.7 (10.1) -> 7.7 (9.1) MB, pooled: 0 MB, 1.58 / 0.00 ms  (mu)",
    );
    expect(gc.scavenges).toBe(1);
    expect(gc.scavengeMs).toBe(1.58);
    expect(gc.markCompacts).toBe(0);
  });
});
