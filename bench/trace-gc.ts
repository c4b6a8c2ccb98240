/**
 * Reads the lines `node --trace-gc` prints, e.g.
 *   [123:0x5e0c000]   4051 ms: Scavenge 114.2 (192.3) -> 74.3 (198.1) MB, pooled: 0 MB, 12.72 / 0.00 ms  (…)
 * into what a young-generation pause costs: how many scavenges, how long they paused the thread, and how
 * much each left behind in the old generation.
 */

export interface GcSummary {
  readonly scavenges: number;
  /** Total and longest scavenge pause, ms. */
  readonly scavengeMs: number;
  readonly longestScavengeMs: number;
  readonly markCompacts: number;
  readonly markCompactMs: number;
  /**
   * The median growth of the heap left after one scavenge to the heap left after the next one, MB:
   * what each scavenge moved to the old generation (promoted or pretenured), since between two
   * scavenges with no mark-compact between them only the young generation is collected. Pairs that
   * straddle a mark-compact, or where the heap shrank, are left out. NaN when there is none.
   */
  readonly promotedPerScavengeMb: number;
}

const EVENT =
  /(Scavenge|Minor Mark-Sweep|Mark-Compact)\S*\s+([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/;

export function summariseTraceGc(text: string): GcSummary {
  let scavenges = 0;
  let scavengeMs = 0;
  let longestScavengeMs = 0;
  let markCompacts = 0;
  let markCompactMs = 0;
  const growths: number[] = [];
  let lastAfter: number | undefined;
  for (const line of text.split("\n")) {
    const event = EVENT.exec(line);
    if (event === null) continue;
    const pauseMs = Number(event[6]);
    if (event[1] === "Mark-Compact") {
      markCompacts += 1;
      markCompactMs += pauseMs;
      lastAfter = undefined;
      continue;
    }
    scavenges += 1;
    scavengeMs += pauseMs;
    longestScavengeMs = Math.max(longestScavengeMs, pauseMs);
    const after = Number(event[4]);
    if (lastAfter !== undefined && after > lastAfter) growths.push(after - lastAfter);
    lastAfter = after;
  }
  growths.sort((a, b) => a - b);
  const promotedPerScavengeMb = growths.length === 0 ? Number.NaN : (growths[growths.length >> 1] as number);
  return { scavenges, scavengeMs, longestScavengeMs, markCompacts, markCompactMs, promotedPerScavengeMb };
}
