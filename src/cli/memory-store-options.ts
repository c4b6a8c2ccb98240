import type { Metrics } from "../metrics/metrics.ts";
import type { Settings } from "../settings/settings.ts";
import type { MemoryCounterStoreOptions } from "../store/memory-counter-store.ts";

/** The bound of every memory store the service keeps (its store, or the `local` fallback's), with evictions counted. */
export function memoryStoreOptions(
  settings: Pick<Settings, "memoryMaxEntries">,
  metrics: Metrics,
): Omit<MemoryCounterStoreOptions, "clock"> {
  return {
    maxCounters: settings.memoryMaxEntries,
    onEvict: (count) => metrics.recordMemoryEvictions(count),
  };
}
