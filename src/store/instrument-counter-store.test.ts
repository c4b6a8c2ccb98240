import { describe, expect, it } from "vitest";
import { type ChargeResult, type CounterStore, StoreError } from "./counter-store.ts";
import { instrumentCounterStore } from "./instrument-counter-store.ts";

const RESULT: ChargeResult = { nowMs: 0, admitted: true, counts: [] };

function fakeStore(charge: CounterStore["charge"]): CounterStore & { pings: number; closed: boolean } {
  return {
    charge,
    pings: 0,
    closed: false,
    peek: () => ({ nowMs: 0, counts: [] }),
    addHits() {},
    async ping() {
      this.pings += 1;
    },
    async close() {
      this.closed = true;
    },
  };
}

describe("instrumentCounterStore", () => {
  it("times each charge on the injected clock and passes the result through", async () => {
    let now = 1_000;
    const settled: [number, unknown][] = [];
    const store = instrumentCounterStore(
      fakeStore(async () => {
        now += 2.5;
        return RESULT;
      }),
      { chargeSettled: (seconds, error) => settled.push([seconds, error]) },
      () => now,
    );
    expect(await store.charge([])).toBe(RESULT);
    expect(settled).toEqual([[0.0025, undefined]]);
  });

  it("reports a failed charge with its error and rethrows the same error", async () => {
    let now = 0;
    const failure = new StoreError("redis: connection closed", { transient: true });
    const settled: [number, unknown][] = [];
    const store = instrumentCounterStore(
      fakeStore(async () => {
        now += 40;
        throw failure;
      }),
      { chargeSettled: (seconds, error) => settled.push([seconds, error]) },
      () => now,
    );
    await expect(store.charge([])).rejects.toBe(failure);
    expect(settled).toEqual([[0.04, failure]]);
  });

  it("delegates ping and close", async () => {
    const inner = fakeStore(async () => RESULT);
    const store = instrumentCounterStore(inner, { chargeSettled: () => {} });
    await store.ping();
    await store.close();
    expect(inner.pings).toBe(1);
    expect(inner.closed).toBe(true);
  });
});
