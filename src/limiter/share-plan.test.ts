import { describe, expect, it } from "vitest";
import type { ChargePlan } from "./plan-charges.ts";
import { sharePlan } from "./share-plan.ts";

const plan = (limits: number[]): ChargePlan => ({
  descriptors: [
    {
      kind: "charged",
      ruleId: "r",
      mode: "enforced",
      cost: 1,
      chargeIndex: 0,
      windows: limits.map((l) => ({ unit: "minute", requestsPerUnit: l, windowMs: 60_000 })),
    },
    { kind: "uncharged", reason: "unmatched" },
  ],
  charges: [
    {
      counterKey: "k",
      mode: "enforced",
      cost: 1,
      countRejected: true,
      windows: limits.map((l) => ({ windowMs: 60_000, limit: l })),
    },
  ],
});

const chargedLimits = (p: ChargePlan) => p.charges.flatMap((c) => c.windows.map((w) => w.limit));
const reportedLimits = (p: ChargePlan) =>
  p.descriptors.flatMap((d) => (d.kind === "charged" ? d.windows.map((w) => w.requestsPerUnit) : []));

describe("sharePlan", () => {
  it.each<[number, number[], number[]]>([
    [3, [100, 1000], [33, 333]],
    [4, [7], [1]],
    [3, [2], [1]],
    [3, [0], [0]],
    [1, [100], [100]],
  ])(
    "with %i instances turns limits %j into %j, in the charges and the reported limits alike",
    (n, limits, shares) => {
      const shared = sharePlan(plan(limits), n);
      expect(chargedLimits(shared)).toEqual(shares);
      expect(reportedLimits(shared)).toEqual(shares);
    },
  );

  it("leaves everything else as it was", () => {
    const original = plan([100]);
    const shared = sharePlan(original, 2);
    expect(shared.descriptors[1]).toBe(original.descriptors[1]);
    expect(shared.charges[0]).toMatchObject({
      counterKey: "k",
      mode: "enforced",
      cost: 1,
      countRejected: true,
    });
    expect(chargedLimits(original)).toEqual([100]);
  });
});
