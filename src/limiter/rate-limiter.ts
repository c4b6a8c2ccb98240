import type { PolicyTable } from "../policy/policy-types.ts";
import type { CounterStore } from "../store/counter-store.ts";
import { decide } from "./decide.ts";
import type { Decision, HeaderStyle, RateLimitCall } from "./limiter-types.ts";
import { planCharges } from "./plan-charges.ts";
import type { RequestLimits } from "./request-limits.ts";
import { validateCall } from "./validate-call.ts";

export interface RateLimiterOptions {
  /** The current policy; read once per call, so a reload mid-call cannot mix two policies. */
  readonly policy: () => PolicyTable;
  readonly store: CounterStore;
  readonly headerStyle: HeaderStyle;
  /** Pass the rate-limit figures to the upstream as request headers on OK. */
  readonly upstreamHeaders: boolean;
  /** Maps a rule's counter identity to the store key (src/store/counter-key.ts). */
  readonly counterKey: (counterId: string) => string;
  /** Bounds on one call; the defaults of request-limits.ts when absent. */
  readonly limits?: RequestLimits | undefined;
}

export interface RateLimiter {
  /**
   * Decides one ShouldRateLimit call. Rejects with InvalidRequestError for a malformed call and
   * lets the store's StoreError through, for the edge to map to INVALID_ARGUMENT and UNAVAILABLE.
   */
  shouldRateLimit(call: RateLimitCall): Promise<Decision>;
}

/** The limiter core: validate, plan against a policy snapshot, charge once, decide. Knows no gRPC. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { store, counterKey } = options;
  const decideOptions = { headerStyle: options.headerStyle, upstreamHeaders: options.upstreamHeaders };
  return {
    async shouldRateLimit(call) {
      validateCall(call, options.limits);
      const plan = planCharges(call, options.policy(), counterKey);
      // Nothing limited: no round trip to the store, which may be remote.
      const result = plan.charges.length === 0 ? undefined : await store.charge(plan.charges);
      return decide(plan, result, decideOptions);
    },
  };
}
