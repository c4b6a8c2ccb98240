import type { Clock } from "../clock.ts";
import type { ConcurrencyRule } from "../policy/concurrency-limit.ts";
import type { MatchExplanation } from "../policy/explain-match.ts";
import type { DescriptorEntry, PolicyTable } from "../policy/policy-types.ts";
import type { Unit } from "../policy/units.ts";
import type { ChargeOptions, ChargeResult, CounterStore, PeekResult } from "../store/counter-store.ts";
import { leaseKey } from "../store/lease-store.ts";
import { type DecideOptions, decide } from "./decide.ts";
import { splitLeaseDescriptors } from "./lease-descriptors.ts";
import type { Decision, DescriptorStatus, RateLimitCall } from "./limiter-types.ts";
import { type ChargedDescriptor, planCharges, type RuleMode, type UnchargedReason } from "./plan-charges.ts";
import { projectCharge } from "./project-charge.ts";
import type { RequestLimits } from "./request-limits.ts";
import { validateCall } from "./validate-call.ts";
import { reportWindows } from "./window-report.ts";

/**
 * Answers "why was this refused, and how much is left?" for a ShouldRateLimit call without making
 * it: the call is planned exactly as the limiter plans it, the store is only peeked at (nothing is
 * counted, no lease taken), and the next call's decision is worked out by the same arithmetic
 * (projectCharge, then decide). Only the counters the call names are read.
 */

export interface ExplainerOptions {
  /** The current policy, read once per explanation, as for a call. */
  readonly policy: () => PolicyTable;
  readonly store: Pick<CounterStore, "peek">;
  readonly counterKey: (counterId: string) => string;
  readonly decideOptions: DecideOptions;
  readonly limits?: RequestLimits | undefined;
  /** The instant reported when nothing had to be read from the store. */
  readonly clock: Clock;
  /** Leases a lease set holds now, read without taking one; held counts are left out without it. */
  readonly leasesHeld?: ((leaseKey: string, options: ChargeOptions) => Promise<number>) | undefined;
}

export interface WindowExplanation {
  readonly name?: string | undefined;
  readonly unit: Unit;
  /** L. */
  readonly limit: number;
  readonly windowMs: number;
  /** c and p as the store holds them now. */
  readonly current: number;
  readonly previous: number;
  /** E now, and max(0, floor(L − E)). */
  readonly estimate: number;
  readonly remaining: number;
  /** Until the current slot ends, in ms. */
  readonly resetMs: number;
  /** What the next call (this very call, made for real) would meet in this window. */
  readonly next: {
    readonly passes: boolean;
    readonly remaining: number;
    readonly retryAfterSeconds?: number | undefined;
  };
}

export interface ConcurrencyExplanation {
  readonly rule: ConcurrencyRule;
  /** Leases held now; absent when the lease store could not be asked. */
  readonly held?: number | undefined;
}

export interface DescriptorExplanation {
  readonly entries: readonly DescriptorEntry[];
  /** For a lease descriptor: which lease call it is (its entries are those before the lease entry). */
  readonly lease?: "acquire" | "release" | undefined;
  /** How the entries walked the policy; absent for an unknown domain. */
  readonly match?: MatchExplanation | undefined;
  /** `charged`, or why nothing is counted; `lease` for a lease descriptor (no windows). */
  readonly outcome: "charged" | UnchargedReason | "lease";
  readonly ruleId?: string | undefined;
  /** How a charged descriptor takes part: only enforced ones refuse (shadow and quota never do). */
  readonly mode?: RuleMode | undefined;
  /** Whether Envoy's limit override replaced the policy's windows. */
  readonly override: boolean;
  /** h the call would add. */
  readonly cost?: number | undefined;
  /** Names of the matched rule's windows that another descriptor of the call `replaces`. */
  readonly replacedWindows: readonly string[];
  readonly windows: readonly WindowExplanation[];
  /** The next call's status for this descriptor (absent for lease descriptors). */
  readonly status?: DescriptorStatus | undefined;
  readonly concurrency?: ConcurrencyExplanation | undefined;
}

export interface CallExplanation {
  readonly domain: string;
  readonly knownDomain: boolean;
  /** The store's clock at the read (or the service's when nothing was read), ms since the epoch. */
  readonly nowMs: number;
  readonly descriptors: readonly DescriptorExplanation[];
  /** The decision the call would get if made now, headers and 429 body included. */
  readonly next: Decision;
}

export interface Explainer {
  /** Rejects with InvalidRequestError for a call the service would refuse, StoreError when the store fails. */
  explain(call: RateLimitCall, options?: ChargeOptions): Promise<CallExplanation>;
}

export function createExplainer(options: ExplainerOptions): Explainer {
  return {
    async explain(call, callOptions = {}) {
      validateCall(call, options.limits);
      const table = options.policy();
      const { rate, leases } = splitLeaseDescriptors(call);
      const rateCall = { ...call, descriptors: rate.map((r) => r.descriptor) };
      const plan = planCharges(rateCall, table, options.counterKey);
      const peek: PeekResult =
        plan.charges.length === 0
          ? { nowMs: options.clock(), counts: [] }
          : await options.store.peek(plan.charges, callOptions);
      const projected = projectCharge(plan.charges, peek);
      const next = decide(plan, plan.charges.length === 0 ? undefined : projected, options.decideOptions);
      const held = (rule: ConcurrencyRule | undefined, counterId: string | undefined) =>
        concurrencyOf(rule, counterId, options, callOptions);

      const explained: DescriptorExplanation[] = new Array(call.descriptors.length);
      await Promise.all([
        ...rate.map(async ({ index, descriptor }, n) => {
          const planned = plan.descriptors[n];
          const matched = table.match(call.domain, descriptor.entries);
          const windows = planned?.kind === "charged" ? explainWindows(planned, peek, projected) : [];
          explained[index] = {
            entries: descriptor.entries,
            match: table.explain?.(call.domain, descriptor.entries),
            outcome: planned?.kind === "charged" ? "charged" : (planned?.reason ?? "unmatched"),
            ruleId: planned?.kind === "charged" ? planned.ruleId : matched?.ruleId,
            mode: planned?.kind === "charged" ? planned.mode : undefined,
            override: descriptor.limitOverride !== undefined,
            cost: planned?.kind === "charged" ? planned.cost : undefined,
            replacedWindows:
              descriptor.limitOverride === undefined
                ? (matched?.windows ?? [])
                    .filter((w) => w.name !== undefined && !windows.some((kept) => kept.name === w.name))
                    .map((w) => w.name as string)
                : [],
            windows,
            status: next.statuses[n],
            concurrency: await held(matched?.concurrency, matched?.counterId),
          };
        }),
        ...leases.map(async (lease) => {
          const matched = table.match(call.domain, lease.entries);
          explained[lease.index] = {
            entries: lease.entries,
            lease: lease.action,
            match: table.explain?.(call.domain, lease.entries),
            outcome: "lease",
            ruleId: matched?.concurrency?.ruleId,
            override: false,
            replacedWindows: [],
            windows: [],
            concurrency: await held(matched?.concurrency, matched?.counterId),
          };
        }),
      ]);
      return {
        domain: call.domain,
        knownDomain: table.hasDomain(call.domain),
        nowMs: peek.nowMs,
        descriptors: explained,
        next,
      };
    },
  };
}

/** Each window now (the peeked counts) and as the next call would leave it (the projected ones). */
function explainWindows(
  planned: ChargedDescriptor,
  peek: PeekResult,
  projected: ChargeResult,
): WindowExplanation[] {
  const after = projected.counts[planned.chargeIndex] ?? [];
  const before = (peek.counts[planned.chargeIndex] ?? []).map((c, j) => ({
    ...c,
    passed: after[j]?.passed ?? true,
  }));
  const nowReports = reportWindows(planned, before, peek.nowMs);
  const nextReports = reportWindows(planned, after, peek.nowMs);
  return nowReports.map((now, j) => {
    const counts = before[j] ?? { current: 0, previous: 0 };
    const next = nextReports[j] ?? now;
    return {
      name: now.name,
      unit: now.unit,
      limit: now.limit,
      windowMs: now.windowMs,
      current: counts.current,
      previous: counts.previous,
      estimate: now.estimate,
      remaining: now.remaining,
      resetMs: now.resetMs,
      next: { passes: next.passed, remaining: next.remaining, retryAfterSeconds: next.retryAfterSeconds },
    };
  });
}

async function concurrencyOf(
  rule: ConcurrencyRule | undefined,
  counterId: string | undefined,
  options: ExplainerOptions,
  callOptions: ChargeOptions,
): Promise<ConcurrencyExplanation | undefined> {
  if (rule === undefined || counterId === undefined) return undefined;
  // The lease set sits beside the node's rate counters (concurrency-limiter.ts resolves it so).
  const key = leaseKey(options.counterKey(counterId));
  const held = await options.leasesHeld?.(key, callOptions);
  return { rule, held };
}
