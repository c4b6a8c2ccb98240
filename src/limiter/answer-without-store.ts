import type { FailurePolicy } from "../policy/failure-policy.ts";
import type { CounterStore, StoreError } from "../store/counter-store.ts";
import { type DecideOptions, decide } from "./decide.ts";
import { fallbackDecision } from "./fallback-decision.ts";
import type { Decision } from "./limiter-types.ts";
import type { ChargePlan } from "./plan-charges.ts";
import { sharePlan } from "./share-plan.ts";

/** What the `local` failure policy counts with. */
export interface LocalFallback {
  /** This process's own counters (a MemoryCounterStore), used only while the shared store is out. */
  readonly store: CounterStore;
  /** Sluice instances sharing the limits; each admits its share, limit ÷ instances. */
  readonly expectedInstances: number;
}

/**
 * Answers a planned call per `policy` after the shared store failed with the transient `error`:
 * `unavailable` rethrows it (the edge answers UNAVAILABLE and Envoy's failure mode decides), `allow`
 * and `deny` answer without counters, `local` decides on this instance's share of each limit.
 * Without a local store configured, `local` falls back to `unavailable`.
 */
export async function answerWithoutStore(
  policy: FailurePolicy,
  plan: ChargePlan,
  error: StoreError,
  options: { readonly local?: LocalFallback | undefined; readonly decideOptions: DecideOptions },
): Promise<Decision> {
  switch (policy) {
    case "allow":
    case "deny":
      return fallbackDecision(plan, policy);
    case "local": {
      if (options.local === undefined) throw error;
      const shared = sharePlan(plan, options.local.expectedInstances);
      return decide(shared, await options.local.store.charge(shared.charges), options.decideOptions);
    }
    case "unavailable":
      throw error;
  }
}
