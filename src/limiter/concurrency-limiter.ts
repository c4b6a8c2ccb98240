import type { Clock } from "../clock.ts";
import type { ConcurrencyRule } from "../policy/concurrency-limit.ts";
import { type FailurePolicy, failurePolicyOf } from "../policy/failure-policy.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import {
  type ChargeOptions,
  type ChargeResult,
  type CounterStore,
  transientStoreError,
} from "../store/counter-store.ts";
import { type LeaseRequest, leaseKey } from "../store/lease-store.ts";
import { type DecideOptions, decide } from "./decide.ts";
import { dryRunCharges, refusedRequestCharges } from "./dry-run-charges.ts";
import { fallbackDecision } from "./fallback-decision.ts";
import { concurrencyRefusal, type LeaseResult, withLeaseStatuses } from "./lease-decision.ts";
import { hasLeaseEntries, type LeaseDescriptor, splitLeaseDescriptors } from "./lease-descriptors.ts";
import { type LeaseChange, type LeaseEvent, reportOutcome } from "./lease-event.ts";
import { askForLease, type LeaseAttempt, type LocalLeases, releaseEverywhere } from "./lease-fallback.ts";
import type { LeaseQueue, QueueOptions } from "./lease-queue.ts";
import type { Decision, RateLimitCall } from "./limiter-types.ts";
import { type ChargePlan, planCharges } from "./plan-charges.ts";
import type { CallContext, RateLimiter, StoreFallbackEvent } from "./rate-limiter.ts";
import type { RequestLimits } from "./request-limits.ts";
import { validateCall } from "./validate-call.ts";

export interface ConcurrencyLimiterOptions {
  /** The same policy, store and key function as the wrapped rate limiter's. */
  readonly policy: () => PolicyTable;
  readonly store: CounterStore;
  readonly counterKey: (counterId: string) => string;
  readonly decideOptions: DecideOptions;
  readonly limits?: RequestLimits | undefined;
  readonly leases: LeaseQueue;
  /** Wall-clock ms, as the call's deadline is given. */
  readonly clock: Clock;
  readonly onLeaseEvent?: ((event: LeaseEvent) => void) | undefined;
  /**
   * The answer when the lease store fails transiently (lease-fallback.ts); a domain's
   * `failure_policy` wins. Default `unavailable`: the call fails with the store's error.
   */
  readonly failurePolicy?: FailurePolicy | undefined;
  /** Leases for the `local` failure policy; without them `local` answers as `unavailable`. */
  readonly local?: LocalLeases | undefined;
  /** Told of every lease-store failure answered per the failure policy (metrics). */
  readonly onFallback?: ((event: StoreFallbackEvent) => void) | undefined;
}

/**
 * Time kept between a queued request giving up and the caller's deadline, in ms: room for the
 * refusal to be counted and to reach Envoy before Envoy stops waiting and lets the request through.
 */
export const DEADLINE_MARGIN_MS = 50;

interface ResolvedLease {
  readonly lease: LeaseDescriptor;
  readonly rule: ConcurrencyRule | undefined;
  readonly key: string | undefined;
}

interface TakenLease extends ResolvedLease {
  /** The rule as enforced: the policy's, or this instance's share of it under `local`. */
  readonly rule: ConcurrencyRule;
  readonly key: string;
  readonly held: number;
  /** Where the lease is held (the shared queue, or the local one), so it is given back there. */
  readonly queue: LeaseQueue;
}

/**
 * Adds concurrency limits to a rate limiter. Calls without lease entries go to `inner` untouched.
 * A call with some is decided in this order, so that rate windows and leases compose:
 *
 * 1. Releases are applied (a stream-done call carries only those).
 * 2. The rate windows are checked without counting (dry-run-charges.ts). Refused: the request is
 *    counted as refused (count_rejected windows only) and takes no lease.
 * 3. Each lease is taken, waiting in the queue up to its `queue_timeout` (cut short so the answer
 *    beats the caller's deadline). Timed out: the leases already taken are given back, the request
 *    is counted as refused and answered OVER_LIMIT for concurrency.
 * 4. The rate windows are charged for real by `inner` (atomic check-and-count, failure policy,
 *    over-limit cache). Should they refuse now (they filled while the request queued), the leases
 *    are given back; the same happens when the caller went away meanwhile, or when the edge could
 *    not deliver the answer (Decision.undelivered), since Envoy sends no stream-done release for a
 *    call it cancelled.
 *
 * When the lease store fails transiently, the domain's failure policy answers the acquire: the
 * call fails (`unavailable`), is admitted without the lease (`allow`), is refused (`deny`), or takes
 * the lease from this instance's own memory at its share of `max` (`local`). A release the store
 * cannot take is answered OK under every policy (Envoy does not act on the answer to the stream-done
 * call); the store retries it once it is back (retried-lease-releases.ts), or its lease expires
 * after its ttl.
 */
export function withConcurrencyLimits(inner: RateLimiter, options: ConcurrencyLimiterOptions): RateLimiter {
  return {
    shouldRateLimit(call, context = {}) {
      if (!hasLeaseEntries(call)) return inner.shouldRateLimit(call, context);
      return decideWithLeases(inner, options, call, context);
    },
  };
}

async function decideWithLeases(
  inner: RateLimiter,
  options: ConcurrencyLimiterOptions,
  call: RateLimitCall,
  context: CallContext,
): Promise<Decision> {
  const startedMs = options.clock();
  validateCall(call, options.limits);
  const split = splitLeaseDescriptors(call);
  const table = options.policy();
  const resolved = split.leases.map((lease) => resolve(call.domain, lease, table, options.counterKey));
  const results: LeaseResult[] = [];
  const emit = (change: LeaseChange) =>
    options.onLeaseEvent?.({ ...change, domain: call.domain } as LeaseEvent);
  const policy = failurePolicyOf(table, call.domain, options.failurePolicy);
  /** Counts a transient lease-store failure as answered per the policy; rethrows any other error. */
  const storeFailed = (error: unknown): void => {
    const transient = transientStoreError(error);
    if (transient === undefined) throw error;
    options.onFallback?.({ domain: call.domain, policy, error: transient });
  };

  await Promise.all(
    resolved
      .filter((r) => r.lease.action === "release")
      .map(async ({ lease, rule, key }) => {
        if (rule === undefined || key === undefined) {
          results.push({ index: lease.index, rule, state: "unlimited" });
          return;
        }
        const out = await releaseEverywhere(options, key, lease.leaseId, context.deadlineMs, storeFailed);
        emit({ kind: "freed", ruleId: rule.ruleId, released: out.released, expired: out.expired });
        results.push({ index: lease.index, rule, state: "released", held: out.held });
      }),
  );

  const acquires: ResolvedLease[] = [];
  for (const r of resolved) {
    if (r.lease.action !== "acquire") continue;
    if (r.rule === undefined) results.push({ index: r.lease.index, rule: undefined, state: "unlimited" });
    else acquires.push(r);
  }
  const rateCall: RateLimitCall = { ...call, descriptors: split.rate.map((r) => r.descriptor) };
  const rateDecision = (): Promise<Decision> =>
    rateCall.descriptors.length === 0
      ? Promise.resolve(decide({ descriptors: [], charges: [] }, undefined, options.decideOptions))
      : Promise.resolve(inner.shouldRateLimit(rateCall, context));
  const answer = (decision: Decision, leases: readonly LeaseResult[]) =>
    withLeaseStatuses(call.descriptors.length, split, decision, [...results, ...leases]);
  const notAsked = (leases: readonly ResolvedLease[]): LeaseResult[] =>
    leases.map((r) => ({ index: r.lease.index, rule: r.rule, state: "not_asked" }));

  if (acquires.length === 0) return answer(await rateDecision(), []);

  const plan = planCharges(rateCall, table, options.counterKey);
  const charge = { deadlineMs: context.deadlineMs };
  if (plan.charges.length > 0) {
    const check = await askStore(options.store, dryRunCharges(plan.charges), charge);
    if (check !== undefined && !check.admitted) {
      return answer(await refusedDecision(options, plan, true, charge), notAsked(acquires));
    }
  }

  const taken: TakenLease[] = [];
  const giveBack = () => Promise.all(taken.splice(0).map((t) => release(t, emit)));
  for (const [n, r] of acquires.entries()) {
    const rule = r.rule as ConcurrencyRule;
    const key = r.key as string;
    const request: LeaseRequest = { key, leaseId: r.lease.leaseId, max: rule.max, ttlMs: rule.leaseTtlMs };
    // Recomputed for each queue asked: a local retry gets what the shared store's failure left.
    const queueOptions = (): QueueOptions => ({
      queueTimeoutMs: queueBudget(rule, startedMs, context, options.clock()),
      signal: context.signal,
      deadlineMs: context.deadlineMs,
    });
    let attempt: LeaseAttempt;
    try {
      attempt = await askForLease(options, request, rule, queueOptions, { policy, storeFailed });
    } catch (error: unknown) {
      await giveBack();
      throw error;
    }
    if (attempt.kind === "allow") {
      results.push({ index: r.lease.index, rule, state: "unleased" });
      continue;
    }
    if (attempt.kind === "deny") {
      const given = notAsked(taken);
      await giveBack();
      // Like the counters' `deny`: OVER_LIMIT without headers. The rate windows were not what
      // failed, so their statuses stay OK; nothing is counted.
      const denied: LeaseResult = { index: r.lease.index, rule, state: "denied" };
      return {
        ...answer(fallbackDecision(plan, "allow"), [...given, denied, ...notAsked(acquires.slice(n + 1))]),
        code: "OVER_LIMIT",
      };
    }
    const { outcome, rule: enforced, queue } = attempt;
    reportOutcome(outcome, enforced, emit);
    if (!outcome.granted) {
      const given = notAsked(taken);
      await giveBack();
      const rate = await refusedDecision(options, plan, false, charge);
      const refused: LeaseResult = { index: r.lease.index, rule: enforced, state: "refused" };
      const decision = answer(rate, [...given, refused, ...notAsked(acquires.slice(n + 1))]);
      return concurrencyRefusal(decision, enforced, options.decideOptions.headerStyle);
    }
    taken.push({ ...r, rule: enforced, key, held: outcome.held, queue });
  }

  let decision: Decision;
  try {
    decision = await rateDecision();
  } catch (error: unknown) {
    await giveBack();
    throw error;
  }
  if (decision.code !== "OK" || context.signal?.aborted) {
    const given = notAsked(taken);
    await giveBack();
    return answer(decision, given);
  }
  return {
    ...answer(
      decision,
      taken.map((t) => ({ index: t.lease.index, rule: t.rule, state: "taken", held: t.held })),
    ),
    undelivered: () => void giveBack(),
  };
}

function resolve(
  domain: string,
  lease: LeaseDescriptor,
  table: PolicyTable,
  counterKey: (counterId: string) => string,
): ResolvedLease {
  const matched = table.hasDomain(domain) ? table.match(domain, lease.entries) : undefined;
  const rule = matched?.concurrency;
  // The lease set sits beside the node's rate counters: same identity, so the same tenant's
  // acquire and release always meet, whichever instance each reaches.
  const key =
    matched !== undefined && rule !== undefined ? leaseKey(counterKey(matched.counterId)) : undefined;
  return { lease, rule, key };
}

/** Queue time left for this lease: its own timeout from the call's start, ending before the deadline. */
function queueBudget(rule: ConcurrencyRule, startedMs: number, context: CallContext, nowMs: number): number {
  const own = startedMs + rule.queueTimeoutMs - nowMs;
  const deadline = (context.deadlineMs ?? Number.POSITIVE_INFINITY) - DEADLINE_MARGIN_MS - nowMs;
  return Math.max(0, Math.min(own, deadline));
}

/**
 * The rate part of a refused request: count_rejected windows charged, the others checked, so the
 * statuses and metrics still describe every window. With `strict` false (the refusal is for
 * concurrency, decided already) a transient store failure only costs the figures.
 */
async function refusedDecision(
  options: ConcurrencyLimiterOptions,
  plan: ChargePlan,
  strict: boolean,
  charge: ChargeOptions,
): Promise<Decision> {
  if (plan.charges.length === 0) return decide(plan, undefined, options.decideOptions);
  const charges = refusedRequestCharges(plan.charges);
  const result = strict
    ? await options.store.charge(charges, charge)
    : await askStore(options.store, charges, charge);
  // No counts to report: statuses without figures (the caller supplies the refusal's code).
  if (result === undefined) return fallbackDecision(plan, "allow");
  return decide(plan, { ...result, admitted: false }, options.decideOptions);
}

/** A store call whose answer is advisory: a transient failure answers undefined instead of throwing. */
async function askStore(
  store: CounterStore,
  charges: ChargePlan["charges"],
  charge: ChargeOptions,
): Promise<ChargeResult | undefined> {
  try {
    return await store.charge(charges, charge);
  } catch (error: unknown) {
    if (transientStoreError(error) !== undefined) return undefined;
    throw error;
  }
}

/** Gives a taken lease back where it was taken; a failure is the store's to retry, or the ttl's to end. */
async function release(lease: TakenLease, emit: (change: LeaseChange) => void) {
  try {
    const out = await lease.queue.release(lease.key, lease.lease.leaseId);
    emit({ kind: "freed", ruleId: lease.rule.ruleId, released: out.released ? 1 : 0, expired: out.expired });
  } catch {
    // The store retries it once it answers again, or the lease expires after its ttl.
  }
}
