import type { Clock } from "../clock.ts";
import { type FailurePolicy, failurePolicyOf } from "../policy/failure-policy.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import {
  type ChargeResult,
  type CounterStore,
  type StoreError,
  transientStoreError,
} from "../store/counter-store.ts";
import { answerWithoutStore, type LocalFallback } from "./answer-without-store.ts";
import { decide } from "./decide.ts";
import type { Decision, HeaderStyle, RateLimitCall } from "./limiter-types.ts";
import type { OverLimitCache } from "./over-limit-cache.ts";
import { type ChargePlan, planCharges } from "./plan-charges.ts";
import type { HeaderNames } from "./rate-limit-headers.ts";
import type { RequestLimits } from "./request-limits.ts";
import { validateCall } from "./validate-call.ts";

export interface RateLimiterOptions {
  /** The current policy; read once per call, so a reload mid-call cannot mix two policies. */
  readonly policy: () => PolicyTable;
  readonly store: CounterStore;
  readonly headerStyle: HeaderStyle;
  /** Pass the rate-limit figures to the upstream as request headers on OK. */
  readonly upstreamHeaders: boolean;
  /** The envoy-ratelimit header style's names; envoyproxy/ratelimit's defaults when absent. */
  readonly headerNames?: HeaderNames | undefined;
  /** Maps a rule's counter identity to the store key (src/store/counter-key.ts). */
  readonly counterKey: (counterId: string) => string;
  /** Bounds on one call; the defaults of request-limits.ts when absent. */
  readonly limits?: RequestLimits | undefined;
  /** The answer when the store fails transiently; a domain's `failure_policy` wins. Default `unavailable`. */
  readonly failurePolicy?: FailurePolicy | undefined;
  /** Counters for the `local` failure policy. */
  readonly local?: LocalFallback | undefined;
  /** Told of every call answered per the failure policy instead of the store (metrics, logs). */
  readonly onFallback?: ((event: StoreFallbackEvent) => void) | undefined;
  /** Calls known to be over limit, answered without the store (over-limit-cache.ts); off when absent. */
  readonly overLimitCache?: { readonly cache: OverLimitCache; readonly clock: Clock } | undefined;
}

export interface StoreFallbackEvent {
  readonly domain: string;
  readonly policy: FailurePolicy;
  readonly error: StoreError;
}

export interface CallContext {
  /** When the caller stops waiting, in ms since the epoch; the store is not waited on past it. */
  readonly deadlineMs?: number | undefined;
  /** Aborted when the caller cancels; a request queued for a concurrency lease stops waiting. */
  readonly signal?: AbortSignal | undefined;
}

export interface RateLimiter {
  /**
   * Decides one ShouldRateLimit call. Rejects with InvalidRequestError for a malformed call and
   * lets the store's StoreError through, for the edge to map to INVALID_ARGUMENT and UNAVAILABLE,
   * unless the failure policy answers a transient store failure.
   *
   * The decision comes back as a plain value when nothing had to be waited for (the memory store,
   * an over-limit cache hit, a call that charges nothing), so the edge can answer in the same turn
   * of the event loop; a promise otherwise. Errors always come as a rejected promise, never thrown.
   */
  shouldRateLimit(call: RateLimitCall, context?: CallContext): Decision | Promise<Decision>;
}

/** The limiter core: validate, plan against a policy snapshot, charge once, decide. Knows no gRPC. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { store, counterKey } = options;
  const decideOptions = {
    headerStyle: options.headerStyle,
    upstreamHeaders: options.upstreamHeaders,
    headerNames: options.headerNames,
  };

  const decideCharged = (plan: ChargePlan, result: ChargeResult): Decision => {
    if (!result.admitted)
      options.overLimitCache?.cache.remember(plan, result, options.overLimitCache.clock());
    return decide(plan, result, decideOptions);
  };

  const answerFailure = (
    call: RateLimitCall,
    table: PolicyTable,
    plan: ChargePlan,
    error: unknown,
  ): Promise<Decision> => {
    const transient = transientStoreError(error);
    if (transient === undefined) return Promise.reject(error);
    const policy = failurePolicyOf(table, call.domain, options.failurePolicy);
    options.onFallback?.({ domain: call.domain, policy, error: transient });
    return answerWithoutStore(policy, plan, transient, { local: options.local, decideOptions });
  };

  return {
    shouldRateLimit(call, context = {}) {
      let table: PolicyTable;
      let plan: ChargePlan;
      let charged: ChargeResult | Promise<ChargeResult>;
      try {
        validateCall(call, options.limits);
        table = options.policy();
        plan = planCharges(call, table, counterKey);
        // Nothing limited: no round trip to the store, which may be remote.
        if (plan.charges.length === 0) return decide(plan, undefined, decideOptions);
        const known = options.overLimitCache?.cache.lookup(plan, options.overLimitCache.clock());
        if (known !== undefined) return decide(plan, known, decideOptions);
        charged = store.charge(plan.charges, { deadlineMs: context.deadlineMs });
        if (!(charged instanceof Promise)) return decideCharged(plan, charged);
      } catch (error: unknown) {
        return Promise.reject(error);
      }
      return charged.then(
        (result) => decideCharged(plan, result),
        (error: unknown) => answerFailure(call, table, plan, error),
      );
    },
  };
}
