import { describe, expect, it } from "vitest";
import type { DescriptorCharge } from "../store/counter-store.ts";
import { MemoryCounterStore } from "../store/memory-counter-store.ts";
import { dryRunCharges, refusedRequestCharges } from "./dry-run-charges.ts";

const MINUTE = 60_000;
const T0 = 1_700_006_400_000;

function charge(counterKey: string, overrides: Partial<DescriptorCharge> = {}): DescriptorCharge {
  return {
    counterKey,
    mode: "enforced",
    cost: 1,
    countRejected: false,
    windows: [{ windowMs: MINUTE, limit: 3 }],
    ...overrides,
  };
}

describe("dry-run charges against the memory store", () => {
  it("answer what the real charge would, for every count up to and past the limit, adding nothing", async () => {
    for (const cost of [1, 2, 3, 4]) {
      const store = new MemoryCounterStore({ clock: () => T0 + 20_000 });
      const real = charge("k", { cost, windows: [{ windowMs: MINUTE, limit: 4 }] });
      for (let n = 0; n < 6; n++) {
        const check = await store.charge(dryRunCharges([real]));
        const again = await store.charge(dryRunCharges([real]));
        expect(again.counts).toEqual(check.counts);
        const actual = await store.charge([real]);
        expect(check.admitted).toBe(actual.admitted);
        expect(check.counts[0]?.[0]?.passed).toBe(actual.counts[0]?.[0]?.passed);
      }
      await store.close();
    }
  });

  it("count a refused request against count_rejected windows only", async () => {
    const store = new MemoryCounterStore({ clock: () => T0 });
    const counted = charge("counted", { countRejected: true });
    const uncounted = charge("uncounted");
    const result = await store.charge(refusedRequestCharges([counted, uncounted]));
    expect(result.counts.map((w) => w[0]?.current)).toEqual([1, 0]);
    expect(result.counts.map((w) => w[0]?.passed)).toEqual([true, true]);
    const after = await store.charge(dryRunCharges([counted, uncounted]));
    expect(after.counts.map((w) => w[0]?.current)).toEqual([1, 0]);
    await store.close();
  });
});
