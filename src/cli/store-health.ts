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
