import type { DescriptorCharge } from "../store/counter-store.ts";

/**
 * Charges that ask the counter store a question without the usual accounting, built from a plan's
 * charges so the store interface stays as it is. A descriptor of cost 0 is never charged, and a
 * window of limit L − h passes a cost of 0 exactly when E + 0 ≤ L − h, i.e. when E + h ≤ L: the
 * store's own predicate for the real cost. The answer's counts and `passed` flags therefore read
 * as they would for the real request, while nothing is added. Pure.
 */

/** Checks every window as the real request would, counting nothing. */
export function dryRunCharges(charges: readonly DescriptorCharge[]): DescriptorCharge[] {
  return charges.map(checkOnly);
}

/**
 * What a request refused for another reason (a full lease set) adds: descriptors with
 * `countRejected` are charged their cost as for any refused request, the rest are only checked,
 * so the answer still describes every window.
 */
export function refusedRequestCharges(charges: readonly DescriptorCharge[]): DescriptorCharge[] {
  return charges.map((charge) => (charge.countRejected ? charge : checkOnly(charge)));
}

function checkOnly(charge: DescriptorCharge): DescriptorCharge {
  return {
    ...charge,
    cost: 0,
    windows: charge.windows.map((w) => ({ windowMs: w.windowMs, limit: w.limit - charge.cost })),
  };
}
