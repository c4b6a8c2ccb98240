import type { FailurePolicy } from "../policy/failure-policy.ts";
import type { CounterStore } from "../store/counter-store.ts";

/** How often the store is pinged for health and the `sluice_store_up` gauge, in ms. */
const PING_INTERVAL_MS = 1_000;

/**
 * Pings the store on an interval and reports changes (the first result always counts as a change),
 * so gRPC health turns SERVING once the store answers and follows it afterwards.
 */
export function watchStoreHealth(
  store: Pick<CounterStore, "ping">,
  { onChange, intervalMs = PING_INTERVAL_MS }: { onChange: (up: boolean) => void; intervalMs?: number },
): { stop(): void } {
  let last: boolean | undefined;
  let stopped = false;
  const check = async () => {
    const up = await store.ping().then(
      () => true,
      () => false,
    );
    if (!stopped && up !== last) {
      last = up;
      onChange(up);
    }
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
 * Whether the service can answer calls: with the store up always; with it down only when the
 * failure policy answers without it. Under `unavailable` health turns NOT_SERVING with the store,
 * as before; under `allow`, `deny` and `local` Sluice still answers every call per its policy, so it
 * stays SERVING and Envoy keeps sending it calls rather than applying its own failure mode.
 */
export function canAnswer(storeUp: boolean, failurePolicy: FailurePolicy): boolean {
  return storeUp || failurePolicy !== "unavailable";
}
