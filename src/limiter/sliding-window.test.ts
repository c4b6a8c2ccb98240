import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { estimate, windowPasses } from "./admission.ts";
import {
  currentEstimate,
  msUntilSlotEnd,
  remainingHits,
  retryAfterSeconds,
  slotEndMs,
  type WindowState,
} from "./sliding-window.ts";

const MINUTE = 60_000;
// Slot k = 28_333_333 of a minute window starts here; f = 0 at T0.
const T0 = 28_333_333 * MINUTE;
const at = (fraction: number) => T0 + Math.round(fraction * MINUTE);

function minute(current: number, previous: number, nowMs: number, limit = 20): WindowState {
  return { current, previous, nowMs, windowMs: MINUTE, limit };
}

describe("estimate, remaining and reset across slot positions", () => {
  // E = p·(1 − f) + c; remaining = max(0, floor(L − E)); reset = (k + 1)·W − t.
  const cases: [string, WindowState, number, number, number][] = [
    ["f = 0: the previous slot counts in full", minute(5, 10, at(0)), 15, 5, 60_000],
    ["f = 0.25", minute(5, 10, at(0.25)), 12.5, 7, 45_000],
    ["f = 0.999: the previous slot has almost gone", minute(5, 10, at(0.999)), 5.01, 14, 60],
    ["over the limit: remaining is 0, never negative", minute(25, 8, at(0.5)), 29, 0, 30_000],
    ["exactly at the limit", minute(20, 0, at(0.5)), 20, 0, 30_000],
    ["empty window", minute(0, 0, at(0.75)), 0, 20, 15_000],
  ];
  it.each(cases)("%s", (_name, state, e, remaining, resetMs) => {
    expect(currentEstimate(state)).toBeCloseTo(e, 9);
    expect(remainingHits(currentEstimate(state), state.limit)).toBe(remaining);
    expect(msUntilSlotEnd(state.nowMs, state.windowMs)).toBe(resetMs);
  });

  it("ends the slot on the window grid", () => {
    expect(slotEndMs(at(0.25), MINUTE)).toBe(T0 + MINUTE);
    expect(slotEndMs(T0, MINUTE)).toBe(T0 + MINUTE);
    expect(slotEndMs(T0 - 1, MINUTE)).toBe(T0);
  });

  it("remaining agrees with the admission predicate despite rounding noise in E", () => {
    for (const e of [17 - 1e-12, 17, 17 + 1e-12]) {
      const r = remainingHits(e, 20);
      expect(windowPasses(e, r, 20)).toBe(true);
      expect(windowPasses(e, r + 1, 20)).toBe(false);
    }
  });
});

describe("retryAfterSeconds", () => {
  // [name, state after accounting, cost h, expected seconds]
  const cases: [string, WindowState, number, number | undefined][] = [
    // 20·(1 − f') + 10 + 1 ≤ 20 → f' ≥ 0.55 → 33 s from f = 0.
    ["in slot k, f = 0", minute(10, 20, at(0)), 1, 33],
    ["in slot k, f = 0.25", minute(10, 20, at(0.25)), 1, 18],
    // 100000·(1 − f') ≤ 14 → f' ≥ 0.99986: 51.6 ms away, rounded up to a whole second.
    ["in slot k, f = 0.999", minute(5, 100_000, at(0.999)), 1, 1],
    // c + h = 22 > 20 → slot k + 1: 21·(1 − f'') + 1 ≤ 20 → f'' ≥ 2/21 → 60 + 5.71 s.
    ["c + h > L forces slot k + 1, f = 0", minute(21, 0, at(0)), 1, 66],
    ["c + h > L forces slot k + 1, f = 0.25", minute(21, 0, at(0.25)), 1, 51],
    ["c + h > L forces slot k + 1, f = 0.999", minute(21, 0, at(0.999)), 1, 6],
    // c + h ≤ L but p decays only at the end of slot k: 10·(1 − f') + 20 ≤ 20 → f' = 1.
    ["h = 0 waits until E ≤ L", minute(20, 10, at(0.25)), 0, 45],
    // 25·(1 − f'') ≤ 20 → f'' ≥ 0.2 → 60 + 12 s.
    ["h = 0 with c > L", minute(25, 0, at(0)), 0, 72],
    // h = L needs an empty window: c·(1 − f'') = 0 only at the end of slot k + 1.
    ["h = L waits for slot k + 2", minute(5, 0, at(0.25)), 20, 105],
    // 18·(1 − f'') + 5 ≤ 20 → f'' ≥ 1/6 → 30 + 10 s.
    ["h = 5 with c = 18", minute(18, 0, at(0.5)), 5, 40],
    ["h > L can never pass", minute(0, 0, at(0.5)), 21, undefined],
    ["L = 0 refuses every positive cost", minute(0, 0, at(0.5), 0), 1, undefined],
    ["L = 0 with h = 0 waits for the previous slot to decay", minute(0, 3, at(0.5), 0), 0, 30],
  ];
  it.each(cases)("%s", (_name, state, cost, expected) => {
    expect(retryAfterSeconds(state, cost)).toBe(expected);
  });

  it("works on second and day windows", () => {
    // 1/s window, c = 2 (counted rejection), f = 0.5: slot k + 1 needs 2·(1 − f'') + 1 ≤ 1 → f'' = 1.
    expect(retryAfterSeconds({ current: 2, previous: 0, nowMs: 10_500, windowMs: 1000, limit: 1 }, 1)).toBe(
      2,
    );
    const day = 86_400_000;
    // 1001·(1 − f'') + 1 ≤ 1000 → f'' ≥ 2/1001 → 172.6 s into the next day, which starts in 12 h.
    expect(
      retryAfterSeconds(
        { current: 1001, previous: 0, nowMs: 100 * day + day / 2, windowMs: day, limit: 1000 },
        1,
      ),
    ).toBe(43_200 + 173);
  });
});

// The property's own view of "nothing else arrives": counters shift one slot per window boundary.
function passesIndependently(s: WindowState, cost: number, atMs: number): boolean {
  const k = Math.floor(s.nowMs / s.windowMs);
  const kAt = Math.floor(atMs / s.windowMs);
  const [c, p] = kAt === k ? [s.current, s.previous] : kAt === k + 1 ? [0, s.current] : [0, 0];
  return windowPasses(estimate(c, p, atMs, s.windowMs), cost, s.limit);
}

const windowState = fc
  .record({
    windowMs: fc.constantFrom(1000, 60_000, 3_600_000, 86_400_000, 5000, 7000),
    slot: fc.integer({ min: 1, max: 20_000_000 }),
    fraction: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    limit: fc.integer({ min: 0, max: 2000 }),
    current: fc.integer({ min: 0, max: 5000 }),
    previous: fc.integer({ min: 0, max: 5000 }),
    cost: fc.integer({ min: 0, max: 2100 }),
  })
  .map(({ windowMs, slot, fraction, limit, current, previous, cost }) => ({
    state: { windowMs, nowMs: slot * windowMs + Math.floor(fraction * windowMs), limit, current, previous },
    cost,
  }));

describe("retryAfterSeconds properties", () => {
  it("is undefined exactly when h > L", () => {
    fc.assert(
      fc.property(windowState, ({ state, cost }) => {
        expect(retryAfterSeconds(state, cost) === undefined).toBe(cost > state.limit);
      }),
    );
  });

  it("the request passes at t + Retry-After and not one second earlier", () => {
    fc.assert(
      fc.property(windowState, ({ state, cost }) => {
        const s = retryAfterSeconds(state, cost);
        if (s === undefined) return;
        expect(s).toBeGreaterThanOrEqual(1);
        expect(Number.isInteger(s)).toBe(true);
        expect(passesIndependently(state, cost, state.nowMs + s * 1000)).toBe(true);
        if (s > 1) expect(passesIndependently(state, cost, state.nowMs + (s - 1) * 1000)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it("never asks to wait beyond the end of slot k + 1", () => {
    fc.assert(
      fc.property(windowState, ({ state, cost }) => {
        const s = retryAfterSeconds(state, cost);
        if (s === undefined) return;
        const untilEmpty = msUntilSlotEnd(state.nowMs, state.windowMs) + state.windowMs;
        expect(s).toBeLessThanOrEqual(Math.max(1, Math.ceil(untilEmpty / 1000)));
      }),
    );
  });

  it("holds where the exact answer falls on a whole second", () => {
    // Fractions that put the exact answer on whole seconds, where rounding of E matters most.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 59 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (second, limit, current) => {
          const state = minute(current, limit, T0 + second * 1000, limit);
          const s = retryAfterSeconds(state, 1);
          if (s === undefined) return;
          expect(passesIndependently(state, 1, state.nowMs + s * 1000)).toBe(true);
          if (s > 1) expect(passesIndependently(state, 1, state.nowMs + (s - 1) * 1000)).toBe(false);
        },
      ),
    );
  });
});
