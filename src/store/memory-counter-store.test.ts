import { afterEach, describe, expect, it } from "vitest";
import { counterKey } from "./counter-key.ts";
import type { DescriptorCharge } from "./counter-store.ts";
import { MemoryCounterStore } from "./memory-counter-store.ts";

const T0 = 1_700_006_400_000; // 2023-11-15T00:00Z, a whole number of days: every slot starts at T0
const WINDOW_MS = 60_000;

function descriptor(limit: number, cost = 1): DescriptorCharge {
  return {
    counterKey: counterKey("memory-test"),
    mode: "enforced",
    cost,
    countRejected: false,
    windows: [{ windowMs: WINDOW_MS, limit }],
  };
}

describe("MemoryCounterStore", () => {
  let now = T0;
  let store: MemoryCounterStore | undefined;
  const open = () => {
    now = T0;
    store = new MemoryCounterStore({ clock: () => now, sweepIntervalMs: 60_000 });
    return store;
  };
  afterEach(async () => {
    await store?.close();
  });

  it("reports the injected clock as nowMs", async () => {
    const s = open();
    now = T0 + 1234;
    expect((await s.charge([descriptor(5)])).nowMs).toBe(T0 + 1234);
  });

  it("keeps a slot for 2W plus the margin after its last charge, then forgets it", async () => {
    const s = open();
    await s.charge([descriptor(5, 3)]);
    now = T0 + 2 * WINDOW_MS + 999;
    s.sweep();
    expect(s.size).toBe(1);
    now = T0 + 2 * WINDOW_MS + 1000;
    s.sweep();
    expect(s.size).toBe(0);
  });

  it("ignores an expired slot even before the sweeper has run", async () => {
    const s = open();
    await s.charge([descriptor(5, 3)]);
    // Slot k is read as "previous" at T0 + W; an expired one must read as 0, not 3.
    now = T0 + 2 * WINDOW_MS + 1000;
    const check = await s.charge([descriptor(5, 0)]);
    // The read itself forgets the expired slot (the sweeper only frees windows no call touches).
    expect(s.size).toBe(0);
    expect(check.counts[0]?.[0]).toEqual({ current: 0, previous: 0, passed: true });
  });

  it("gives a slot its lifetime at its first charge, as the Redis charge script does", async () => {
    const s = open();
    await s.charge([descriptor(5, 1)]);
    now = T0 + WINDOW_MS - 1; // still slot 0: a later charge leaves the lifetime as it is
    await s.charge([descriptor(5, 1)]);
    now = T0 + 2 * WINDOW_MS + 999;
    s.sweep();
    expect(s.size).toBe(1);
    // Slot 0 is two slots back now: not even read as "previous".
    expect((await s.charge([descriptor(5, 0)])).counts[0]?.[0]).toEqual({
      current: 0,
      previous: 0,
      passed: true,
    });
    now = T0 + 2 * WINDOW_MS + 1000; // 2W + margin after the first charge
    s.sweep();
    expect(s.size).toBe(0);
  });

  it("extends a slot's lifetime when refused hits are added, as the Redis add script does", async () => {
    const s = open();
    await s.charge([descriptor(5, 1)]);
    now = T0 + WINDOW_MS - 1;
    s.addHits([
      { counterKey: counterKey("memory-test"), windowMs: WINDOW_MS, slot: T0 / WINDOW_MS, hits: 2 },
    ]);
    now = T0 + 2 * WINDOW_MS + 1000;
    s.sweep();
    expect(s.size).toBe(1);
    now = T0 + 3 * WINDOW_MS + 999;
    s.sweep();
    expect(s.size).toBe(0);
  });

  it("peeks the slots as a charge would roll them, expiry included, changing nothing", async () => {
    const s = open();
    await s.charge([descriptor(5, 3)]);
    expect(s.peek([descriptor(5)]).counts).toEqual([[{ current: 3, previous: 0 }]]);
    now = T0 + WINDOW_MS + 10;
    expect(s.peek([descriptor(5)])).toEqual({ nowMs: now, counts: [[{ current: 0, previous: 3 }]] });
    // A clock stepped back reads the newer slots, as a charge keeps them.
    now = T0 - 10;
    expect(s.peek([descriptor(5)]).counts).toEqual([[{ current: 3, previous: 0 }]]);
    now = T0 + 2 * WINDOW_MS + 10;
    expect(s.peek([descriptor(5)]).counts).toEqual([[{ current: 0, previous: 0 }]]);
    // Within the slot's lifetime but two slots on: gone, as for a charge.
    now = T0 + WINDOW_MS + 20;
    expect(s.charge([descriptor(5, 0)]).counts[0]?.[0]).toMatchObject({ current: 0, previous: 3 });
  });

  it("adds cost sequentially when one counter appears twice in a request", async () => {
    const s = open();
    const result = await s.charge([descriptor(10, 2), descriptor(10, 3)]);
    expect(result.counts.map((c) => c[0]?.current)).toEqual([2, 5]);
    // Both checked against the counts before accounting.
    expect(result.counts.map((c) => c[0]?.passed)).toEqual([true, true]);
  });

  it("stops its sweeper on close and drops all counters", async () => {
    const s = open();
    await s.charge([descriptor(5)]);
    await s.close();
    expect(s.size).toBe(0);
  });
  describe("with a counter bound", () => {
    const keyed = (id: string): DescriptorCharge => ({ ...descriptor(100), counterKey: counterKey(id) });
    const bounded = (maxCounters: number, evicted: number[]) => {
      now = T0;
      store = new MemoryCounterStore({
        clock: () => now,
        sweepIntervalMs: 60_000,
        maxCounters,
        onEvict: (count) => evicted.push(count),
      });
      return store;
    };
    const total = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

    it("holds no more than the bound under a flood of distinct keys, counting evictions", async () => {
      const evicted: number[] = [];
      const s = bounded(100, evicted);
      for (let i = 0; i < 1000; i++) await s.charge([keyed(`flood-${i}`)]);
      expect(s.counterCount).toBe(100);
      expect(total(evicted)).toBe(900);
    });

    it("evicts the least recently used counter, keeping the busy one's count", async () => {
      const evicted: number[] = [];
      const s = bounded(3, evicted);
      await s.charge([keyed("busy")]);
      await s.charge([keyed("idle-1")]);
      await s.charge([keyed("busy")]);
      await s.charge([keyed("idle-2")]);
      // Full: "idle-1" was used least recently, so the new counter evicts it.
      await s.charge([keyed("new")]);
      expect(total(evicted)).toBe(1);
      const busy = await s.charge([keyed("busy")]);
      expect(busy.counts[0]?.[0]?.current).toBe(3);
      const idle = await s.charge([keyed("idle-1")]);
      expect(idle.counts[0]?.[0]?.current).toBe(1);
      expect(s.counterCount).toBe(3);
    });

    it("does not count dropping an expired counter as an eviction", async () => {
      const evicted: number[] = [];
      const s = bounded(1, evicted);
      await s.charge([keyed("old")]);
      now = T0 + 3 * WINDOW_MS;
      await s.charge([keyed("new")]);
      expect(evicted).toEqual([]);
      expect(s.counterCount).toBe(1);
    });

    it("neither creates a counter nor saves one from eviction by a peek", async () => {
      const evicted: number[] = [];
      const s = bounded(2, evicted);
      await s.charge([keyed("old")]);
      await s.charge([keyed("young")]);
      expect(s.peek([keyed("never-charged"), keyed("old")]).counts).toEqual([
        [{ current: 0, previous: 0 }],
        [{ current: 1, previous: 0 }],
      ]);
      expect(s.counterCount).toBe(2);
      // "old" was peeked last but charged first: it is still the one a new counter evicts.
      await s.charge([keyed("new")]);
      expect(s.peek([keyed("old")]).counts).toEqual([[{ current: 0, previous: 0 }]]);
      expect(s.peek([keyed("young")]).counts).toEqual([[{ current: 1, previous: 0 }]]);
    });

    it("bounds counters that were only checked (cost 0) too", async () => {
      const s = bounded(10, []);
      for (let i = 0; i < 50; i++) await s.charge([{ ...keyed(`check-${i}`), cost: 0 }]);
      expect(s.counterCount).toBe(10);
    });
  });
});
