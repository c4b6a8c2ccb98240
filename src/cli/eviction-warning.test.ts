import { describe, expect, it } from "vitest";
import type { Logger } from "../log/logger.ts";
import type { EvictionReading } from "../store/redis-eviction.ts";
import { watchRedisEviction } from "./eviction-warning.ts";

const settle = () => new Promise((resolve) => setImmediate(resolve));

function harness(readings: EvictionReading[][]) {
  const lines: string[] = [];
  const gauge: number[] = [];
  const line = (level: string) => (fields: { node: string; maxmemoryPolicy?: string }, msg: string) =>
    lines.push(`${level} ${msg} ${fields.node}${fields.maxmemoryPolicy ? ` ${fields.maxmemoryPolicy}` : ""}`);
  const logger = { warn: line("warn"), info: line("info") } as unknown as Logger;
  let next = 0;
  const read = async () => readings[Math.min(next++, readings.length - 1)] ?? [];
  // An interval far beyond the test: only check() reads.
  const watch = watchRedisEviction(read, logger, { setStoreEvictingNodes: (n) => gauge.push(n) }, 3_600_000);
  /** Reads `times` times, each settled before the next, then stops. */
  const checkTimes = async (times: number) => {
    for (let i = 0; i < times; i++) {
      watch.check();
      await settle();
    }
    watch.stop();
  };
  return { lines, gauge, watch, checkTimes };
}

const node = (name: string, maxmemoryBytes: number, policy: string): EvictionReading => ({
  ok: true,
  node: name,
  maxmemoryBytes,
  policy,
});

describe("watchRedisEviction", () => {
  it("warns once per node while its settings stay, counts the nodes that may evict, notes the fix", async () => {
    const risky = [node("a:1", 1 << 26, "volatile-lru"), node("b:2", 0, "noeviction")];
    const fixed = [node("a:1", 1 << 26, "noeviction"), node("b:2", 0, "noeviction")];
    const { lines, gauge, checkTimes } = harness([risky, risky, fixed, fixed]);
    await checkTimes(4);
    expect(lines).toEqual([
      "warn Redis may evict counters a:1 volatile-lru",
      "info Redis no longer evicts counters a:1 noeviction",
    ]);
    expect(gauge).toEqual([1, 1, 0, 0]);
  });

  it("notes a node it cannot read once, without counting it, and warns when it can read it again", async () => {
    const unread: EvictionReading = { ok: false, node: "a:1", reason: "NOPERM", answered: true };
    const { lines, gauge, checkTimes } = harness([[unread], [unread], [node("a:1", 1 << 20, "allkeys-lru")]]);
    await checkTimes(3);
    expect(lines).toEqual([
      "info Redis eviction policy not checked a:1",
      "warn Redis may evict counters a:1 allkeys-lru",
    ]);
    expect(gauge).toEqual([0, 0, 1]);
  });

  it("keeps a node it cannot reach as last read: an outage neither logs nor clears the count", async () => {
    const down: EvictionReading = {
      ok: false,
      node: "a:1",
      reason: "Connection is closed.",
      answered: false,
    };
    const risky = node("a:1", 1 << 20, "allkeys-lru");
    const { lines, gauge, checkTimes } = harness([[risky], [down], [down], [risky]]);
    await checkTimes(4);
    expect(lines).toEqual(["warn Redis may evict counters a:1 allkeys-lru"]);
    expect(gauge).toEqual([1, 1, 1, 1]);
  });

  it("reports nothing once stopped", async () => {
    const { lines, gauge, watch } = harness([[node("a:1", 1 << 20, "allkeys-lru")]]);
    watch.check();
    watch.stop();
    await settle();
    expect(lines).toEqual([]);
    expect(gauge).toEqual([]);
  });
});
