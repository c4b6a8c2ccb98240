import type { ConcurrencyRule } from "../policy/concurrency-limit.ts";
import type { LeaseOutcome } from "./lease-queue.ts";

/**
 * What the concurrency limiter reports about leases, for metrics. Rule ids come from the policy
 * (a concurrency limit's `name` or key path), never from request values.
 */
export type LeaseEvent =
  /** This instance gave a request a lease; `queued` when it had to wait for it. */
  | {
      readonly kind: "taken";
      readonly domain: string;
      readonly ruleId: string;
      readonly queued: boolean;
      readonly waitedMs: number;
    }
  /**
   * No lease: the set stayed full for the whole queue timeout (`timeout`; at once when the timeout
   * is 0) or the caller gave up while queued (`cancelled`).
   */
  | {
      readonly kind: "refused";
      readonly domain: string;
      readonly ruleId: string;
      readonly reason: "timeout" | "cancelled";
      readonly queued: boolean;
      readonly waitedMs: number;
    }
  /**
   * Leases left a set through this instance: `released` by a release call (0 when the id was not
   * held, as for a refused request), `expired` when a call found leases past their ttl and removed
   * them (releases that never came).
   */
  | {
      readonly kind: "freed";
      readonly domain: string;
      readonly ruleId: string;
      readonly released: number;
      readonly expired: number;
    };

/** A LeaseEvent before the call's domain is added to it. */
export type LeaseChange = LeaseEvent extends infer E
  ? E extends LeaseEvent
    ? Omit<E, "domain">
    : never
  : never;

/** The events of one lease request's outcome: leases it found expired, then taken or refused. */
export function reportOutcome(
  outcome: LeaseOutcome,
  rule: ConcurrencyRule,
  emit: (change: LeaseChange) => void,
): void {
  if (outcome.expired > 0)
    emit({ kind: "freed", ruleId: rule.ruleId, released: 0, expired: outcome.expired });
  const timing = { queued: outcome.queued, waitedMs: outcome.waitedMs };
  if (outcome.granted) emit({ kind: "taken", ruleId: rule.ruleId, ...timing });
  else
    emit({
      kind: "refused",
      ruleId: rule.ruleId,
      reason: outcome.reason === "cancelled" ? "cancelled" : "timeout",
      ...timing,
    });
}
