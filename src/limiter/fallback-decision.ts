import { isAdmitted } from "./admission.ts";
import { uncharged } from "./decide.ts";
import type { Decision, DescriptorStatus } from "./limiter-types.ts";
import type { ChargePlan } from "./plan-charges.ts";

/**
 * The answer of the `allow` and `deny` failure policies, made without counters. Pure.
 *
 * With no counts there is nothing true to say about remaining hits or reset times, so the answer
 * carries no rate-limit headers and no body. `deny` treats every charged window as failed and then
 * applies the usual admission rule: only enforced descriptors refuse; a quota descriptor reports as
 * one over its limit (OK, its limit, nothing left), a shadow one OK. Outcomes are left empty so
 * per-rule metrics count only real decisions.
 */
export function fallbackDecision(plan: ChargePlan, policy: "allow" | "deny"): Decision {
  const deny = policy === "deny";
  const statuses = plan.descriptors.map((planned): DescriptorStatus => {
    if (planned.kind === "uncharged") return uncharged(planned.reason);
    if (!deny || planned.mode === "shadow") return { code: "OK", limitRemaining: 0 };
    const window = planned.windows[0];
    return {
      code: planned.mode === "quota" ? "OK" : "OVER_LIMIT",
      currentLimit: window && {
        requestsPerUnit: window.requestsPerUnit,
        unit: window.unit,
        name: window.name,
      },
      limitRemaining: 0,
    };
  });
  const admitted = !deny || isAdmitted(plan.charges.map((charge) => ({ mode: charge.mode, failed: true })));
  return {
    code: admitted ? "OK" : "OVER_LIMIT",
    statuses,
    responseHeaders: [],
    requestHeaders: [],
    outcomes: [],
  };
}
