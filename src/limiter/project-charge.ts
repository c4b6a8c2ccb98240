import type { ChargeResult, DescriptorCharge, PeekResult } from "../store/counter-store.ts";
import { chargedHits, estimate, isAdmitted, windowPasses } from "./admission.ts";

/**
 * What `CounterStore.charge` would answer for `charges` at the instant a peek read their counters,
 * had nothing else arrived: the same checks (a counter named twice adds up), the same verdict
 * (`isAdmitted`) and the same accounting (`chargedHits`) as every store applies. Pure; nothing is
 * written anywhere, so an explanation can show the very decision the next call would get.
 */
export function projectCharge(charges: readonly DescriptorCharge[], peek: PeekResult): ChargeResult {
  const { nowMs } = peek;
  const slotOf = (charge: DescriptorCharge, windowMs: number) => `${charge.counterKey}\0${windowMs}`;
  // Hits earlier descriptors of this call would add to each slot, before and after the verdict.
  const planned = new Map<string, number>();
  const checks = charges.map((charge, i) =>
    charge.windows.map((w, j) => {
      const counts = peek.counts[i]?.[j] ?? { current: 0, previous: 0 };
      const slot = slotOf(charge, w.windowMs);
      const earlier = planned.get(slot) ?? 0;
      planned.set(slot, earlier + charge.cost);
      const estimated = estimate(counts.current, counts.previous, nowMs, w.windowMs) + earlier;
      return { ...counts, passed: windowPasses(estimated, charge.cost, w.limit) };
    }),
  );
  const admitted = isAdmitted(
    charges.map((c, i) => ({ mode: c.mode, failed: checks[i]?.some((w) => !w.passed) ?? false })),
  );
  const added = new Map<string, number>();
  const counts = charges.map((charge, i) => {
    const charged = charge.cost > 0 && (admitted || charge.countRejected);
    return charge.windows.map((w, j) => {
      const check = checks[i]?.[j] ?? { current: 0, previous: 0, passed: true };
      const slot = slotOf(charge, w.windowMs);
      const before = added.get(slot) ?? 0;
      const now = before + (charged ? chargedHits(charge.cost, w.limit, admitted) : 0);
      added.set(slot, now);
      return { current: check.current + now, previous: check.previous, passed: check.passed };
    });
  });
  return { nowMs, admitted, counts };
}
