import { type FailurePolicy, failurePolicyOf } from "../policy/failure-policy.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import type { CounterStore } from "../store/counter-store.ts";

/** How often the store is pinged for health and the `sluice_store_up` gauge, in ms. */
const PING_INTERVAL_MS = 1_000;

export interface StoreHealthOptions {
  /** A change of the store's state; the first result always counts as a change. */
  readonly onChange: (up: boolean) => void;
  /** Every result, changed or not: for what also depends on something else, such as the live policy. */
  readonly onCheck?: ((up: boolean) => void) | undefined;
  readonly intervalMs?: number;
}

/**
 * Pings the store on an interval and reports changes, so gRPC health turns SERVING once the store
 * answers and follows it afterwards.
 */
export function watchStoreHealth(
  store: Pick<CounterStore, "ping">,
  { onChange, onCheck, intervalMs = PING_INTERVAL_MS }: StoreHealthOptions,
): { stop(): void } {
  let last: boolean | undefined;
  let stopped = false;
  const check = async () => {
    const up = await store.ping().then(
      () => true,
      () => false,
    );
    if (stopped) return;
    if (up !== last) {
      last = up;
      onChange(up);
    }
    onCheck?.(up);
  };
  void check();
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/**
 * Whether the service can answer calls: with the store up always; with it down when at least one
 * domain of the policy answers without it, its own `failure_policy` or else the service's being
 * `allow`, `deny` or `local` (for counters and leases alike). Those domains' calls are still
 * answered, so health stays SERVING and Envoy keeps sending calls rather than applying its own
 * failure mode to all of them; the other domains' calls are answered UNAVAILABLE one by one, which
 * leaves the same decision to Envoy's `failure_mode_deny`. Only when every domain fails with the
 * store (or the policy has none, and the service's policy is `unavailable`) does health turn
 * NOT_SERVING. Pure.
 */
export function canAnswer(storeUp: boolean, table: PolicyTable, failurePolicy: FailurePolicy): boolean {
  if (storeUp) return true;
  if (table.domains.size === 0) return failurePolicy !== "unavailable";
  for (const domain of table.domains.keys()) {
    if (failurePolicyOf(table, domain, failurePolicy) !== "unavailable") return true;
  }
  return false;
}
