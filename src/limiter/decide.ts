import type { ChargeResult } from "../store/counter-store.ts";
import { descriptorBinding, latestRetry, leastRemaining } from "./binding-window.ts";
import { blockingWindows } from "./blocking-windows.ts";
import type { Decision, DescriptorStatus, HeaderStyle, RuleOutcome } from "./limiter-types.ts";
import { overLimitResponse } from "./over-limit-body.ts";
import type { ChargedDescriptor, ChargePlan, RuleMode, UnchargedReason } from "./plan-charges.ts";
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
  const charged: ChargedReports[] = [];
  const statuses = plan.descriptors.map((planned): DescriptorStatus => {
    if (planned.kind === "uncharged") return uncharged(planned.reason);
    const reports = reportWindows(planned, result?.counts[planned.chargeIndex], nowMs);
    const { ruleId, statKey, cost, mode } = planned;
    charged.push({ ruleId, statKey, cost, mode, reports });
    return chargedStatus(mode, reports);
  });
  const outcomes = charged.map(outcome);

  if (result === undefined)
    return { code: "OK", statuses, responseHeaders: [], requestHeaders: [], outcomes };

  const code = result.admitted ? "OK" : "OVER_LIMIT";
  // Headers describe limits a client is held to, so only enforced windows: shadow and quota ones
  // never refuse (they are counted and reported in statuses and metrics all the same), and an over
  // quota would otherwise show nothing left, and a reset to wait for, on answers that keep passing.
  const reports = charged.flatMap((d) => d.reports);
  const binding =
    code === "OK"
      ? leastRemaining(reports.filter((r) => r.mode === "enforced"))
      : latestRetry(blockingWindows(reports));
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

/** A charged descriptor with its windows as this decision reads them. */
interface ChargedReports extends Pick<ChargedDescriptor, "ruleId" | "statKey" | "cost" | "mode"> {
  readonly reports: readonly WindowReport[];
}

/** The status of a descriptor nothing charges: OK, and no `current_limit`. */
export function uncharged(reason: UnchargedReason): DescriptorStatus {
  return { code: "OK", limitRemaining: reason === "unlimited" ? UNLIMITED_REMAINING : 0 };
}

/**
 * A shadow descriptor reports OK while its figures show what enforcing it would have said. A quota
 * descriptor over its limit reports OK with its limit, nothing left and no duration until reset, as
 * envoyproxy/ratelimit answers it: the call goes through, so there is nothing to wait for.
 */
function chargedStatus(mode: RuleMode, reports: readonly WindowReport[]): DescriptorStatus {
  const binding = descriptorBinding(reports) as WindowReport;
  const failed = reports.some((r) => !r.passed);
  const currentLimit = { requestsPerUnit: binding.limit, unit: binding.unit, name: binding.name };
  if (failed && mode === "quota") return { code: "OK", currentLimit, limitRemaining: 0 };
  return {
    code: failed && mode === "enforced" ? "OVER_LIMIT" : "OK",
    currentLimit,
    limitRemaining: binding.remaining,
    durationUntilResetMs: binding.resetMs,
  };
}

/**
 * For metrics, a rule's would-be code: OVER_LIMIT when any of its windows failed, even for shadow
 * rules (flagged by `shadow`) and quota rules, which never refuse; the metric counts rule pressure.
 */
function outcome(descriptor: ChargedReports): RuleOutcome {
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
