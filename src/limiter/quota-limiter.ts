import { type FailurePolicy, failurePolicyOf } from "../policy/failure-policy.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import { type ChargeResult, type CounterStore, transientStoreError } from "../store/counter-store.ts";
import type { LocalFallback } from "./answer-without-store.ts";
import { type ChargePlan, planCharges } from "./plan-charges.ts";
import {
  ALLOW_ALL,
  ASSIGNMENT_TTL_SECONDS,
  assignQuota,
  type QuotaAssignment,
  type QuotaWindow,
} from "./quota-assignment.ts";
import type { StoreFallbackEvent } from "./rate-limiter.ts";
import { sharePlan } from "./share-plan.ts";

export interface QuotaLimiterOptions {
  /** The current policy; read once per bucket report. */
  readonly policy: () => PolicyTable;
  /** The same counters the RLS limiter charges, so both protocols share one count. */
  readonly store: CounterStore;
  readonly counterKey: (counterId: string) => string;
  /** The answer when the store fails transiently; a domain's `failure_policy` wins. Default `unavailable`. */
  readonly failurePolicy?: FailurePolicy | undefined;
  /**
   * Counters for the `local` failure policy; its `expectedInstances` also scales the stream count
   * (see QuotaLimiter.assess).
   */
  readonly local?: LocalFallback | undefined;
  readonly onFallback?: ((event: StoreFallbackEvent) => void) | undefined;
}

/** One bucket's line of a usage report, in domain terms. */
export interface BucketUsage {
  readonly domain: string;
  readonly bucket: Readonly<Record<string, string>>;
  /** Requests Envoy let through since the bucket's previous report. */
  readonly allowed: number;
}

export interface QuotaLimiter {
  /**
   * Charges a bucket's reported `allowed` requests to the counters its rule names and assigns the
   * quota of one of the `streams` Envoy streams reporting the bucket to this instance. Requests Envoy
   * denied are not charged: Envoy refused them itself, by Sluice's assignment or by its own fallback,
   * and charging them would hold a tenant down for the split between Envoys.
   *
   * Across Sluice instances the stream count is an approximation: this instance's streams times the
   * expected instances (`--expected-instances`), as if Envoys spread evenly over instances; the
   * shared counters correct each share at the next report.
   *
   * When the store fails transiently the domain's failure policy answers: `unavailable` assigns
   * nothing (undefined: Envoy's expiry and no-assignment settings decide), `allow` ALLOW_ALL, `deny`
   * DENY_ALL, `local` assigns from this instance's own counters at its share of each limit.
   * Other errors reject.
   */
  assess(usage: BucketUsage, streams: number): Promise<QuotaAssignment | undefined>;
}

export function createQuotaLimiter(options: QuotaLimiterOptions): QuotaLimiter {
  const instances = Math.max(1, options.local?.expectedInstances ?? 1);

  const fallback = async (
    usage: BucketUsage,
    table: PolicyTable,
    plan: ChargePlan,
    streams: number,
    error: unknown,
  ): Promise<QuotaAssignment | undefined> => {
    const transient = transientStoreError(error);
    if (transient === undefined) throw error;
    const policy = failurePolicyOf(table, usage.domain, options.failurePolicy);
    options.onFallback?.({ domain: usage.domain, policy, error: transient });
    switch (policy) {
      case "allow":
        return ALLOW_ALL;
      case "deny":
        return { kind: "deny_all", ttlSeconds: ASSIGNMENT_TTL_SECONDS };
      case "local": {
        if (options.local === undefined) return undefined;
        // This instance's share of each limit, divided among its own streams.
        const shared = sharePlan(plan, instances);
        return assignment(shared, await options.local.store.charge(shared.charges), streams);
      }
      case "unavailable":
        return undefined;
    }
  };

  return {
    async assess(usage, streams) {
      const table = options.policy();
      const entries = table.bucketEntries?.(usage.domain, usage.bucket) ?? [];
      if (entries.length === 0) return ALLOW_ALL;
      const plan = planCharges(
        // The descriptor's own cost, so 0 allowed charges nothing (a call's hits_addend 0 means 1).
        { domain: usage.domain, descriptors: [{ entries, hitsAddend: usage.allowed }], hitsAddend: 0 },
        table,
        options.counterKey,
      );
      const planned = plan.descriptors[0];
      if (planned === undefined || planned.kind === "uncharged") return ALLOW_ALL;
      const charging = unconditional(plan);
      let charged: ChargeResult;
      try {
        charged = await options.store.charge(charging.charges);
      } catch (error: unknown) {
        // Shadow and quota rules never refuse, so there is nothing for a failure policy to decide.
        if (planned.mode !== "enforced" && transientStoreError(error)) return ALLOW_ALL;
        return fallback(usage, table, charging, streams, error);
      }
      // Counted all the same: shadow and quota-mode rules never refuse (as in envoyproxy/ratelimit),
      // but their counters show how far over they are.
      if (planned.mode !== "enforced") return ALLOW_ALL;
      return assignment(charging, charged, streams * instances);
    },
  };
}

/**
 * The report's requests already went through Envoy, so they are added whatever the windows say:
 * charged as shadow, which the stores never refuse (countRejected then plays no part).
 */
function unconditional(plan: ChargePlan): ChargePlan {
  return { ...plan, charges: plan.charges.map((charge) => ({ ...charge, mode: "shadow" })) };
}

/** The assignment from the single charged descriptor's windows as the store left them. */
function assignment(plan: ChargePlan, result: ChargeResult, streams: number): QuotaAssignment {
  const planned = plan.descriptors[0];
  if (planned === undefined || planned.kind === "uncharged") return ALLOW_ALL;
  const counts = result.counts[planned.chargeIndex] ?? [];
  const windows = planned.windows.map(
    (w, j): QuotaWindow => ({
      limit: w.requestsPerUnit,
      windowMs: w.windowMs,
      current: counts[j]?.current ?? 0,
      previous: counts[j]?.previous ?? 0,
    }),
  );
  return assignQuota(windows, result.nowMs, streams);
}
