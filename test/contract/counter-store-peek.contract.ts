import { expect, it } from "vitest";
import type { ChargeResult, PeekResult } from "../../src/store/counter-store.ts";
import { fresh, type StoreUnderTest } from "./counter-store.contract.ts";

/**
 * What every CounterStore's `peek` must answer: the counts a charge at the same instant would read,
 * and nothing written. Part of the counter store contract (counter-store.contract.ts calls it).
 */

const HOUR = 3_600_000;

function currents(result: ChargeResult | PeekResult): number[][] {
  return result.counts.map((windows) => windows.map((w) => w.current));
}

export function peekContract(target: () => StoreUnderTest): void {
  it("peeks zeros on counters never charged, in the shape asked", async () => {
    const two = fresh({
      windows: [
        { windowMs: 60_000, limit: 5 },
        { windowMs: HOUR, limit: 9 },
      ],
    });
    const peeked = await target().store.peek([two, fresh()]);
    expect(Number.isInteger(peeked.nowMs)).toBe(true);
    expect(peeked.counts).toEqual([
      [
        { current: 0, previous: 0 },
        { current: 0, previous: 0 },
      ],
      [{ current: 0, previous: 0 }],
    ]);
  });

  it("peeks what charges left and counts nothing itself", async () => {
    const { store } = target();
    const d = fresh({ cost: 2, windows: [{ windowMs: HOUR, limit: 10 }] });
    await store.charge([d]);
    await store.charge([d]);
    expect(currents(await store.peek([d]))).toEqual([[4]]);
    expect(currents(await store.peek([d]))).toEqual([[4]]);
    // The next real charge sees only the charges: the peeks added nothing.
    expect(currents(await store.charge([{ ...d, cost: 1 }]))).toEqual([[5]]);
    // An empty peek answers too (nothing to read, the store's clock all the same).
    expect((await store.peek([])).counts).toEqual([]);
  });

  it("peeks counters on different nodes in one call", async () => {
    const { store } = target();
    const many = Array.from({ length: 6 }, (_, n) =>
      fresh({ cost: n + 1, windows: [{ windowMs: HOUR, limit: 10 }] }),
    );
    await store.charge(many);
    expect(currents(await store.peek(many))).toEqual([[1], [2], [3], [4], [5], [6]]);
  });

  it("peeks the previous slot once the window has moved on", async () => {
    const { store, wait } = target();
    const W = 1000;
    const d = fresh({ cost: 3, windows: [{ windowMs: W, limit: 5 }] });
    const charged = await store.charge([d]);
    const k = Math.floor(charged.nowMs / W);
    await wait((k + 1) * W - charged.nowMs + 100);
    const peeked = await store.peek([d]);
    const slot = Math.floor(peeked.nowMs / W);
    // Past slot k + 1 (a slow machine) both slots read 0, as a charge would read them.
    expect(peeked.counts[0]?.[0]).toEqual(
      slot === k + 1 ? { current: 0, previous: 3 } : { current: 0, previous: 0 },
    );
  });
}
