import type { ConcurrencyRule } from "../policy/concurrency-limit.ts";
import type { SplitCall } from "./lease-descriptors.ts";
import type { Decision, DescriptorStatus, Header, HeaderStyle, RuleOutcome } from "./limiter-types.ts";

/** How one lease descriptor of a call ended, for its status and the metrics. */
export interface LeaseResult {
  readonly index: number;
  readonly rule: ConcurrencyRule | undefined;
  /**
   * `taken`/`refused` for acquires; `released` for releases; `unlimited` when no concurrency matched;
   * `unleased`/`denied` when the lease store failed and the failure policy (`allow`/`deny`) answered:
   * those are no decision of the limit, so they add no rule outcome to the metrics.
   */
  readonly state: "taken" | "refused" | "not_asked" | "released" | "unlimited" | "unleased" | "denied";
  /** Leases held in the set after the call, when the store was asked. */
  readonly held?: number | undefined;
}

/**
 * Whole seconds a client refused for concurrency is told to wait. Slots free when other requests
 * finish, which Sluice cannot predict; one second is the smallest wait Retry-After can say.
 */
export const CONCURRENCY_RETRY_AFTER_SECONDS = 1;

/**
 * The call's decision from the decision over its rate descriptors and the lease results: statuses
 * back in the call's order, lease outcomes added to the metrics' rule outcomes. Pure.
 */
export function withLeaseStatuses(
  callLength: number,
  split: SplitCall,
  rate: Decision,
  leases: readonly LeaseResult[],
): Decision {
  const statuses: DescriptorStatus[] = new Array(callLength);
  split.rate.forEach((d, j) => {
    statuses[d.index] = rate.statuses[j] ?? { code: "OK", limitRemaining: 0 };
  });
  const outcomes: RuleOutcome[] = [...rate.outcomes];
  for (const lease of leases) {
    statuses[lease.index] = leaseStatus(lease);
    if (lease.rule !== undefined && (lease.state === "taken" || lease.state === "refused")) {
      outcomes.push({
        ruleId: lease.rule.ruleId,
        code: lease.state === "taken" ? "OK" : "OVER_LIMIT",
        shadow: false,
        usedFraction: lease.state === "taken" ? (lease.held ?? lease.rule.max) / lease.rule.max : 1,
      });
    }
  }
  return { ...rate, statuses, outcomes };
}

/**
 * A refusal for concurrency: OVER_LIMIT with `Retry-After` and a JSON body naming the limit,
 * in place of the rate figures (the request may well have been within its rate windows):
 *
 *   {"error":"concurrency_limited","limit":"pro_in_flight","limit_value":20,"queue_timeout_ms":500,"retry_after_seconds":1}
 */
export function concurrencyRefusal(
  decision: Decision,
  rule: ConcurrencyRule,
  headerStyle: HeaderStyle,
): Decision {
  const body = {
    error: "concurrency_limited",
    limit: rule.ruleId,
    limit_value: rule.max,
    queue_timeout_ms: rule.queueTimeoutMs,
    retry_after_seconds: CONCURRENCY_RETRY_AFTER_SECONDS,
  };
  const retry: Header[] =
    headerStyle === "none" ? [] : [{ key: "Retry-After", value: String(CONCURRENCY_RETRY_AFTER_SECONDS) }];
  return {
    ...decision,
    code: "OVER_LIMIT",
    responseHeaders: [...retry, { key: "content-type", value: "application/json" }],
    requestHeaders: [],
    body: new TextEncoder().encode(JSON.stringify(body)),
  };
}

function leaseStatus(lease: LeaseResult): DescriptorStatus {
  const rule = lease.rule;
  const code = lease.state === "refused" || lease.state === "denied" ? "OVER_LIMIT" : "OK";
  if (rule === undefined || lease.held === undefined) return { code, limitRemaining: 0 };
  return { code, limitRemaining: Math.max(0, rule.max - lease.held) };
}
