import type { ChargeResult, DescriptorMode } from "../store/counter-store.ts";
import { descriptorBinding, latestRetry, leastRemaining } from "./binding-window.ts";
import { blockingWindows, type DescriptorReports } from "./blocking-windows.ts";
import type { Decision, DescriptorStatus, HeaderStyle, RuleOutcome } from "./limiter-types.ts";
import { overLimitResponse } from "./over-limit-body.ts";
import type { ChargedDescriptor, ChargePlan, UnchargedReason } from "./plan-charges.ts";
import { type HeaderNames, rateLimitHeaders } from "./rate-limit-headers.ts";
import { reportWindows, usedFraction, type WindowReport } from "./window-report.ts";

export interface DecideOptions {
  readonly headerStyle: HeaderStyle;
  readonly upstreamHeaders: boolean;
  /** The envoy-ratelimit style's header names; envoyproxy/ratelimit's defaults when absent. */
  readonly headerNames?: HeaderNames | undefined;
}

/**
 * `limit_remaining` for an `unlimited` rule: uint32 max, as envoyproxy/ratelimit answers. Descriptors
 * that matched nothing, or a node without a limit, or whose limits were all replaced, answer 0 as
 * the reference does; either way `current_limit` is absent, which tells Envoy nothing limits them.
 */
export const UNLIMITED_REMAINING = 4_294_967_295;

/**
 * Turns a plan and the store's answer into the decision. Pure. `result` is undefined when the plan
 * charged nothing (the store is not asked), and the answer is then OK without headers.
 *
 * The overall code is the store's verdict (`admitted`), which applies `isAdmitted` atomically with
 * the accounting; the statuses explain it per descriptor.
 */
export function decide(plan: ChargePlan, result: ChargeResult | undefined, options: DecideOptions): Decision {
  const nowMs = result?.nowMs ?? 0;
  const charged: (DescriptorReports &
    Pick<ChargedDescriptor, "ruleId" | "statKey" | "cost"> & {
      admission: DescriptorMode;
    })[] = [];
  const statuses = plan.descriptors.map((planned): DescriptorStatus => {
    if (planned.kind === "uncharged") return uncharged(planned.reason);
    const reports = reportWindows(planned, result?.counts[planned.chargeIndex], nowMs);
    const admission = plan.charges[planned.chargeIndex]?.mode ?? planned.mode;
    const { ruleId, statKey, cost, mode } = planned;
    charged.push({ ruleId, statKey, cost, mode, admission, reports });
    return chargedStatus(planned.mode === "shadow", reports);
  });
  const outcomes = charged.map(outcome);

  if (result === undefined)
    return { code: "OK", statuses, responseHeaders: [], requestHeaders: [], outcomes };

  const code = result.admitted ? "OK" : "OVER_LIMIT";
  // Headers describe limits a client is held to, so shadow windows are left out (they are counted
  // and reported in statuses and metrics all the same).
  const binding =
    code === "OK"
      ? leastRemaining(charged.filter((d) => d.mode !== "shadow").flatMap((d) => d.reports))
      : // What blocks follows the verdict, so it reads the modes the store weighed, not the reported ones.
        latestRetry(blockingWindows(charged.map((d) => ({ mode: d.admission, reports: d.reports }))));
  const headers = rateLimitHeaders({
    style: options.headerStyle,
    code,
    binding,
    nowMs,
    upstreamHeaders: options.upstreamHeaders,
    names: options.headerNames,
  });
  if (code === "OK") return { code, statuses, ...headers, outcomes };

  const response = overLimitResponse(binding);
  return {
    code,
    statuses,
    responseHeaders: [...headers.responseHeaders, ...response.headers],
    requestHeaders: headers.requestHeaders,
    body: response.body,
    outcomes,
  };
}

/** The status of a descriptor nothing charges: OK, and no `current_limit`. */
export function uncharged(reason: UnchargedReason): DescriptorStatus {
  return { code: "OK", limitRemaining: reason === "unlimited" ? UNLIMITED_REMAINING : 0 };
}

/** A shadow descriptor reports OK while its figures show what enforcing it would have said. */
function chargedStatus(shadow: boolean, reports: readonly WindowReport[]): DescriptorStatus {
  const binding = descriptorBinding(reports) as WindowReport;
  const failed = reports.some((r) => !r.passed);
  return {
    code: failed && !shadow ? "OVER_LIMIT" : "OK",
    currentLimit: { requestsPerUnit: binding.limit, unit: binding.unit, name: binding.name },
    limitRemaining: binding.remaining,
    durationUntilResetMs: binding.resetMs,
  };
}

/**
 * For metrics, a rule's would-be code: OVER_LIMIT when any of its windows failed, even for shadow
 * rules (flagged by `shadow`) and quota rules the request got past; the metric counts rule pressure.
 */
function outcome(
  descriptor: DescriptorReports & Pick<ChargedDescriptor, "ruleId" | "statKey" | "cost">,
): RuleOutcome {
  const binding = descriptorBinding(descriptor.reports) as WindowReport;
  return {
    ruleId: descriptor.ruleId,
    statKey: descriptor.statKey,
    hits: descriptor.cost,
    code: descriptor.reports.some((r) => !r.passed) ? "OVER_LIMIT" : "OK",
    shadow: descriptor.mode === "shadow",
    usedFraction: usedFraction(binding),
  };
}
