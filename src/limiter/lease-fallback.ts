import type { ConcurrencyRule } from "../policy/concurrency-limit.ts";
import type { FailurePolicy } from "../policy/failure-policy.ts";
import type { LeaseRequest } from "../store/lease-store.ts";
import type { LeaseOutcome, LeaseQueue, QueueOptions } from "./lease-queue.ts";

/** What the `local` failure policy takes leases from. */
export interface LocalLeases {
  /** A queue over this process's own MemoryLeaseStore, used only while the shared store fails. */
  readonly leases: LeaseQueue;
  /** Sluice instances sharing the limits; each holds its share of a set's leases, max ÷ instances. */
  readonly expectedInstances: number;
}

/** Where the concurrency limiter takes leases: the shared store's queue, and the local one for `local`. */
export interface LeaseQueues {
  readonly leases: LeaseQueue;
  readonly local?: LocalLeases | undefined;
}

/** The answer to a lease-store failure a call gets, short of failing it. */
export type LeaseFallback = "allow" | "deny" | "local";

/**
 * Whether `policy` answers a lease the store could not give, or the call fails with the store's
 * error (UNAVAILABLE, so Envoy's `failure_mode_deny` decides): under `unavailable`, and under
 * `local` when no local leases are configured, as answerWithoutStore does for counters.
 */
export function leaseFallback(
  policy: FailurePolicy,
  local: LocalLeases | undefined,
): LeaseFallback | undefined {
  if (policy === "unavailable" || (policy === "local" && local === undefined)) return undefined;
  return policy;
}

/**
 * The rule this instance enforces on its own under `local`: ⌊max ÷ instances⌋ leases, at least 1
 * (as sharePlan does for rate limits), so that the instances together stay near `max`. Pure.
 */
export function localShare(rule: ConcurrencyRule, instances: number): ConcurrencyRule {
  if (instances <= 1) return rule;
  return { ...rule, max: Math.max(1, Math.floor(rule.max / instances)) };
}

/** How asking for one lease ended: an outcome from a queue, or the failure policy's answer. */
export type LeaseAttempt =
  | {
      readonly kind: "asked";
      readonly outcome: LeaseOutcome;
      readonly rule: ConcurrencyRule;
      readonly queue: LeaseQueue;
    }
  | { readonly kind: "allow" }
  | { readonly kind: "deny" };

/**
 * Asks the shared queue for a lease. When its store fails, `storeFailed` is told (it rethrows what
 * is not transient) and `policy` answers: the error again, `allow`, `deny`, or for `local` this
 * instance's own queue at its share of the limit, with whatever queue time is left.
 */
export async function askForLease(
  queues: LeaseQueues,
  request: LeaseRequest,
  rule: ConcurrencyRule,
  queueOptions: () => QueueOptions,
  failure: { readonly policy: FailurePolicy; readonly storeFailed: (error: unknown) => void },
): Promise<LeaseAttempt> {
  try {
    const outcome = await queues.leases.acquire(request, queueOptions());
    return { kind: "asked", outcome, rule, queue: queues.leases };
  } catch (error: unknown) {
    failure.storeFailed(error);
    const answer = leaseFallback(failure.policy, queues.local);
    if (answer === undefined) throw error;
    if (answer !== "local") return { kind: answer };
    // leaseFallback answers `local` only when local leases exist.
    const local = queues.local as LocalLeases;
    const share = localShare(rule, local.expectedInstances);
    const outcome = await local.leases.acquire({ ...request, max: share.max }, queueOptions());
    return { kind: "asked", outcome, rule: share, queue: local.leases };
  }
}

/**
 * Frees a lease wherever this instance may hold it: in the shared store, and in the local leases
 * (taken while the shared store failed; a no-op for any other id). A transient failure of the
 * shared store is reported to `storeFailed` and skipped here: the store sends the release again once
 * it is back (retried-lease-releases.ts), or the lease expires after its ttl.
 */
export async function releaseEverywhere(
  queues: LeaseQueues,
  key: string,
  leaseId: string,
  deadlineMs: number | undefined,
  storeFailed: (error: unknown) => void,
): Promise<{ released: number; expired: number; held: number | undefined }> {
  const local = await queues.local?.leases.release(key, leaseId);
  const freed = { released: local?.released ? 1 : 0, expired: local?.expired ?? 0 };
  try {
    const shared = await queues.leases.release(key, leaseId, { deadlineMs });
    return {
      released: freed.released + (shared.released ? 1 : 0),
      expired: freed.expired + shared.expired,
      held: local?.released ? local.held : shared.held,
    };
  } catch (error: unknown) {
    storeFailed(error);
    return { ...freed, held: local?.released ? local.held : undefined };
  }
}
