import type { ChargePlan, PlannedDescriptor } from "./plan-charges.ts";

/**
 * A plan whose every limit is this instance's share of it, for the `local` failure policy: while
 * the shared counters are unreachable, each of `instances` Sluice processes admits ⌊L ÷ instances⌋
 * on its own, so together they stay near L. Pure.
 *
 * A positive limit keeps a share of at least 1: rounding a small limit down to 0 would turn an outage
 * into a block. A limit of 0 stays 0.
 */
export function sharePlan(plan: ChargePlan, instances: number): ChargePlan {
  if (instances <= 1) return plan;
  const share = (limit: number) => (limit === 0 ? 0 : Math.max(1, Math.floor(limit / instances)));
  return {
    descriptors: plan.descriptors.map(
      (planned): PlannedDescriptor =>
        planned.kind === "uncharged"
          ? planned
          : {
              ...planned,
              windows: planned.windows.map((w) => ({ ...w, requestsPerUnit: share(w.requestsPerUnit) })),
            },
    ),
    charges: plan.charges.map((charge) => ({
      ...charge,
      windows: charge.windows.map((w) => ({ ...w, limit: share(w.limit) })),
    })),
  };
}
