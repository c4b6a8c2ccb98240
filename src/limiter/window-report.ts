import type { Unit } from "../policy/units.ts";
import type { WindowCounts } from "../store/counter-store.ts";
import type { ChargedDescriptor, RuleMode } from "./plan-charges.ts";
import {
  currentEstimate,
  msUntilSlotEnd,
  remainingHits,
  retryAfterSeconds,
  type WindowState,
} from "./sliding-window.ts";

/** Everything the decision says about one charged window, computed once from the store's counts. */
export interface WindowReport {
  readonly ruleId: string;
  readonly mode: RuleMode;
  readonly unit: Unit;
  readonly name?: string | undefined;
  /** L. */
  readonly limit: number;
  readonly windowMs: number;
  /** E after this request's accounting. */
  readonly estimate: number;
  /** max(0, floor(L − E)). */
  readonly remaining: number;
  /** (k + 1)·W − t, in ms. */
  readonly resetMs: number;
  /** Whether this window admitted the request (the store's verdict). */
  readonly passed: boolean;
  /**
   * Failing windows only: whole seconds until the same request would pass this window.
   * `undefined` for a passing window, and for a failing one that no wait can clear (h > L).
   */
  readonly retryAfterSeconds: number | undefined;
}

export function reportWindows(
  descriptor: ChargedDescriptor,
  counts: readonly WindowCounts[] | undefined,
  nowMs: number,
): WindowReport[] {
  if (counts === undefined || counts.length !== descriptor.windows.length) {
    // The store broke its contract (counts mirror the charges); better loud than a wrong answer.
    throw new Error(
      `counter store answered ${counts?.length ?? "no"} windows for charge ${descriptor.chargeIndex}, expected ${descriptor.windows.length}`,
    );
  }
  return descriptor.windows.map((window, j) => {
    const count = counts[j] as WindowCounts;
    const state: WindowState = {
      current: count.current,
      previous: count.previous,
      nowMs,
      windowMs: window.windowMs,
      limit: window.requestsPerUnit,
    };
    const estimate = currentEstimate(state);
    return {
      ruleId: descriptor.ruleId,
      mode: descriptor.mode,
      unit: window.unit,
      name: window.name,
      limit: window.requestsPerUnit,
      windowMs: window.windowMs,
      estimate,
      remaining: remainingHits(estimate, window.requestsPerUnit),
      resetMs: msUntilSlotEnd(nowMs, window.windowMs),
      passed: count.passed,
      retryAfterSeconds: count.passed ? undefined : retryAfterSeconds(state, descriptor.cost),
    };
  });
}

/** E / L, for near-limit metrics; a zero limit counts as fully used. */
export function usedFraction(report: WindowReport): number {
  return report.limit === 0 ? 1 : report.estimate / report.limit;
}
