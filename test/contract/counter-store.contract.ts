import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { estimate, windowPasses } from "../../src/limiter/admission.ts";
import { counterKey } from "../../src/store/counter-key.ts";
import type { ChargeResult, CounterStore, DescriptorCharge } from "../../src/store/counter-store.ts";
import { peekContract } from "./counter-store-peek.contract.ts";

/**
 * What every CounterStore must answer, whatever its backend. Each test uses fresh counter ids, so
 * one store instance serves the whole suite. Time is never measured: tests that cross a slot
 * boundary derive their expectations from the nowMs the store reports.
 */

export interface StoreUnderTest {
  readonly store: CounterStore;
  /** Lets `ms` milliseconds pass: advances a fake clock, or sleeps against a real one. */
  wait(ms: number): Promise<void>;
  /** True when `wait` moves the store's clock by exactly `ms` (a fake clock). */
  readonly exactTime: boolean;
  close(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** A descriptor on a fresh counter: enforced, cost 1, one hour window unless overridden. */
export function fresh(overrides: Partial<DescriptorCharge> = {}): DescriptorCharge {
  return {
    counterKey: counterKey(`contract:${randomUUID()}`),
    mode: "enforced",
    cost: 1,
    countRejected: false,
    windows: [{ windowMs: HOUR, limit: 3 }],
    ...overrides,
  };
}

function currents(result: ChargeResult): number[][] {
  return result.counts.map((windows) => windows.map((w) => w.current));
}

export function counterStoreContract(open: () => Promise<StoreUnderTest>): void {
  let target: StoreUnderTest;
  let store: CounterStore;
  beforeAll(async () => {
    target = await open();
    store = target.store;
  });
  afterAll(async () => {
    await target?.close();
  });
  peekContract(() => target);

  it("admits up to the limit, exactly at it, and refuses beyond", async () => {
    const d = fresh({ windows: [{ windowMs: HOUR, limit: 3 }] });
    const answers = [];
    for (let n = 0; n < 4; n++) answers.push(await store.charge([d]));
    expect(answers.map((a) => a.admitted)).toEqual([true, true, true, false]);
    expect(answers.map((a) => a.counts[0]?.[0])).toEqual([
      { current: 1, previous: 0, passed: true },
      { current: 2, previous: 0, passed: true },
      { current: 3, previous: 0, passed: true },
      { current: 3, previous: 0, passed: false },
    ]);
    for (const a of answers) expect(Number.isInteger(a.nowMs)).toBe(true);
  });

  it("adds the cost h and admits iff E + h <= L", async () => {
    const d = fresh({ cost: 4, windows: [{ windowMs: HOUR, limit: 10 }] });
    expect((await store.charge([d])).admitted).toBe(true);
    expect((await store.charge([d])).admitted).toBe(true);
    const over = await store.charge([d]);
    expect(over.admitted).toBe(false);
    expect(currents(over)).toEqual([[8]]);
    const exact = await store.charge([{ ...d, cost: 2 }]);
    expect(exact.admitted).toBe(true);
    expect(currents(exact)).toEqual([[10]]);
  });

  it("treats cost 0 as a check that consumes nothing", async () => {
    const d = fresh({ windows: [{ windowMs: HOUR, limit: 2 }] });
    const empty = await store.charge([{ ...d, cost: 0 }]);
    expect(empty.admitted).toBe(true);
    expect(empty.counts[0]?.[0]).toEqual({ current: 0, previous: 0, passed: true });
    await store.charge([d]);
    await store.charge([d]);
    // At the limit: E + 0 <= L still holds, and the check adds nothing.
    const atLimit = await store.charge([{ ...d, cost: 0 }]);
    expect(atLimit.admitted).toBe(true);
    expect(currents(atLimit)).toEqual([[2]]);
    expect((await store.charge([d])).admitted).toBe(false);
  });

  it("refuses when the day window is spent though the minute window passes", async () => {
    const d = fresh({
      windows: [
        { windowMs: MINUTE, limit: 10 },
        { windowMs: DAY, limit: 2 },
      ],
    });
    await store.charge([d]);
    await store.charge([d]);
    const third = await store.charge([d]);
    expect(third.admitted).toBe(false);
    expect(third.counts[0]?.map((w) => w.passed)).toEqual([true, false]);
    // Refused and not countRejected: neither window is charged, not even the one that passed.
    expect(currents(third)).toEqual([[2, 2]]);
  });

  it("charges a refused request only to descriptors with countRejected", async () => {
    const counted = fresh({ countRejected: true, windows: [{ windowMs: HOUR, limit: 1 }] });
    const uncounted = fresh({ countRejected: false, windows: [{ windowMs: HOUR, limit: 1 }] });
    await store.charge([counted]);
    await store.charge([uncounted]);
    const refusedCounted = await store.charge([counted]);
    const refusedUncounted = await store.charge([uncounted]);
    expect([refusedCounted.admitted, refusedUncounted.admitted]).toEqual([false, false]);
    expect(currents(refusedCounted)).toEqual([[2]]);
    expect(currents(refusedUncounted)).toEqual([[1]]);

    // Within one refused request: a passing bystander is charged only if it counts rejected hits.
    const blocker = fresh({ windows: [{ windowMs: HOUR, limit: 0 }] });
    const bystanderCounted = fresh({ countRejected: true });
    const bystander = fresh({ countRejected: false });
    const mixed = await store.charge([blocker, bystanderCounted, bystander]);
    expect(mixed.admitted).toBe(false);
    expect(mixed.counts.map((c) => c[0]?.passed)).toEqual([false, true, true]);
    expect(currents(mixed)).toEqual([[0], [1], [0]]);
  });

  it("never refuses for a shadow descriptor but still counts it", async () => {
    const shadow = fresh({ mode: "shadow", windows: [{ windowMs: HOUR, limit: 1 }] });
    const answers = [];
    for (let n = 0; n < 3; n++) answers.push(await store.charge([shadow, fresh()]));
    expect(answers.map((a) => a.admitted)).toEqual([true, true, true]);
    expect(answers.map((a) => a.counts[0]?.[0]?.passed)).toEqual([true, false, false]);
    expect(answers.map((a) => a.counts[0]?.[0]?.current)).toEqual([1, 2, 3]);
  });

  it("answers an empty request as admitted", async () => {
    const result = await store.charge([]);
    expect(result).toMatchObject({ admitted: true, counts: [] });
    expect(Number.isInteger(result.nowMs)).toBe(true);
  });

  it("weighs the previous slot by the part of the window not yet elapsed", async () => {
    const W = 1000;
    const L = 10;
    const d = fresh({ cost: L, windows: [{ windowMs: W, limit: L }] });
    const filled = await store.charge([d]);
    expect(filled.admitted).toBe(true);
    const k = Math.floor(filled.nowMs / W);
    // Aim at the middle of slot k + 1: half of slot k's 10 hits still count there.
    await target.wait((k + 1) * W - filled.nowMs + W / 2);

    // Hits per slot as this test made them; whichever slot the store's clock lands in, the
    // expectation follows from its reported nowMs and the rule in admission.ts.
    const hits = new Map<number, number>([[k, L]]);
    const expectFor = (result: ChargeResult, cost: number) => {
      const slot = Math.floor(result.nowMs / W);
      const current = hits.get(slot) ?? 0;
      const previous = hits.get(slot - 1) ?? 0;
      const passed = windowPasses(estimate(current, previous, result.nowMs, W), cost, L);
      if (passed) hits.set(slot, current + cost);
      return { current: passed ? current + cost : current, previous, passed };
    };

    const half = await store.charge([{ ...d, cost: 5 }]);
    expect(half.counts[0]?.[0]).toEqual(expectFor(half, 5));
    expect(half.admitted).toBe(half.counts[0]?.[0]?.passed);
    const next = await store.charge([{ ...d, cost: 1 }]);
    expect(next.counts[0]?.[0]).toEqual(expectFor(next, 1));
    if (target.exactTime) {
      // Mid-slot: E = 10·½ + 0 admits 5 more, then E = 10·½ + 5 leaves no room for 1.
      expect([half.admitted, next.admitted]).toEqual([true, false]);
    }
  });

  it("forgets a slot two windows back", async () => {
    const W = 1000;
    const d = fresh({ cost: 3, windows: [{ windowMs: W, limit: 3 }] });
    const filled = await store.charge([d]);
    const k = Math.floor(filled.nowMs / W);
    await target.wait((k + 2) * W - filled.nowMs + 1);
    const later = await store.charge([{ ...d, cost: 0 }]);
    expect(Math.floor(later.nowMs / W)).toBeGreaterThanOrEqual(k + 2);
    expect(later.counts[0]?.[0]).toEqual({ current: 0, previous: 0, passed: true });
  });

  it("keeps windows of one descriptor and descriptors of one request apart", async () => {
    const a = fresh({
      windows: [
        { windowMs: MINUTE, limit: 5 },
        { windowMs: HOUR, limit: 5 },
      ],
    });
    const b = fresh({ cost: 2 });
    const first = await store.charge([a, b]);
    const second = await store.charge([{ ...a, cost: 2 }]);
    expect(currents(first)).toEqual([[1, 1], [2]]);
    expect(currents(second)).toEqual([[3, 3]]);
    expect(second.counts[0]?.map((w) => w.passed)).toEqual([true, true]);
  });

  it("adds up every charge on one counter in a request before deciding", async () => {
    // Rule 3 per hour, the counter named twice at cost 2 (or two values of one share_threshold pool).
    const d = fresh({ cost: 2, countRejected: true, windows: [{ windowMs: HOUR, limit: 3 }] });
    const twice = await store.charge([d, d]);
    expect(twice.admitted).toBe(false);
    // The first fits on its own (0 + 2 <= 3); the second sees the first's hits (2 + 2 > 3).
    expect(twice.counts.map((w) => w[0]?.passed)).toEqual([true, false]);
    // count_rejected: both charges land, each reporting the count after its own.
    expect(currents(twice)).toEqual([[2], [4]]);

    const e = fresh({ cost: 1, windows: [{ windowMs: HOUR, limit: 3 }] });
    const three = await store.charge([e, e, e]);
    expect(three.admitted).toBe(true);
    expect(currents(three)).toEqual([[1], [2], [3]]);
    const fourth = await store.charge([e]);
    expect(fourth.admitted).toBe(false);
    // Without count_rejected a refused request leaves the counter alone.
    const refusedPair = await store.charge([{ ...e, cost: 0 }, e]);
    expect(currents(refusedPair)).toEqual([[3], [3]]);
  });

  it("admits exactly the limit when many charges on one counter arrive at once", async () => {
    // A hot tenant: 200 calls in flight together, which a single Redis decides in batches.
    const d = fresh({ windows: [{ windowMs: HOUR, limit: 50 }] });
    const all = await Promise.all(Array.from({ length: 200 }, () => store.charge([d])));
    expect(all.filter((a) => a.admitted)).toHaveLength(50);
    // Every admitted call saw a distinct count, 1 to 50: no two were decided on the same reading.
    const seen = all.filter((a) => a.admitted).map((a) => a.counts[0]?.[0]?.current);
    expect(new Set(seen).size).toBe(50);
    expect(Math.max(...(seen as number[]))).toBe(50);
    expect(currents(await store.charge([{ ...d, cost: 0 }]))).toEqual([[50]]);
  });

  it("adds up a counter named twice in each of many requests arriving at once", async () => {
    // Each request charges 2: admitted while c + 1 + 1 <= 9, so at c = 0, 2, 4, 6; at c = 8 the
    // first naming passes and the second fails, and the refused request charges nothing.
    const d = fresh({ windows: [{ windowMs: HOUR, limit: 9 }] });
    const all = await Promise.all(Array.from({ length: 40 }, () => store.charge([d, d])));
    expect(all.filter((a) => a.admitted)).toHaveLength(4);
    for (const refused of all.filter((a) => !a.admitted)) {
      expect(refused.counts.map((w) => w[0])).toEqual([
        { current: 8, previous: 0, passed: true },
        { current: 8, previous: 0, passed: false },
      ]);
    }
  });

  it("lets each of many refused calls arriving at once add at most the limit", async () => {
    const d = fresh({
      cost: Number.MAX_SAFE_INTEGER,
      countRejected: true,
      windows: [
        { windowMs: MINUTE, limit: 20 },
        { windowMs: HOUR, limit: 1000 },
      ],
    });
    const all = await Promise.all(Array.from({ length: 10 }, () => store.charge([d])));
    expect(all.every((a) => !a.admitted)).toBe(true);
    expect(currents(await store.charge([{ ...d, cost: 0 }]))).toEqual([[200, 10000]]);
  });

  it("lets a refused call add at most each window's limit, whatever its cost", async () => {
    const huge = Number.MAX_SAFE_INTEGER;
    const d = fresh({
      cost: huge,
      countRejected: true,
      windows: [
        { windowMs: MINUTE, limit: 20 },
        { windowMs: HOUR, limit: 1000 },
      ],
    });
    const refused = await store.charge([d]);
    expect(refused.admitted).toBe(false);
    expect(currents(refused)).toEqual([[20, 1000]]);
    // Again and again: the counter grows by at most the limit per call, far from any overflow.
    for (let i = 0; i < 5; i++) await store.charge([d]);
    const after = await store.charge([{ ...d, cost: 0 }]);
    expect(currents(after)).toEqual([[120, 6000]]);
  });
}
