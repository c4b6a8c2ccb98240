import type { TargetOptions } from "./bench-targets.ts";
import type { BenchRow } from "./measure.ts";
import type { ReferenceSettings } from "./reference-target.ts";
import type { Scenario, TargetName } from "./scenarios.ts";

/** How the reference rows of a run are configured (`--reference-window`, `--reference-cache-bytes`). */
export interface ReferenceRowSettings {
  /** Its policies' runtime root (reference-target.ts writeReferenceRuntime); undefined: no reference rows. */
  readonly runtimeRoot: string | undefined;
  /** REDIS_PIPELINE_WINDOW values, a row each. */
  readonly windows: readonly string[];
  /** LOCAL_CACHE_SIZE_IN_BYTES of the extra cache-on rows in the flood scenario. */
  readonly cacheBytes: number;
}

/**
 * The rows of a scenario: one per target, the reference expanded into one row per configuration
 * (each pipeline window; in the flood, each also with its local cache on). Each row's options name
 * only the Redis it uses, so the Redis CPU read around its run is that store's alone.
 */
export function scenarioRows(
  scenario: Scenario,
  base: TargetOptions,
  reference: ReferenceRowSettings,
): BenchRow[] {
  return scenario.targets.flatMap((target) =>
    target === "reference"
      ? referenceRows(scenario, base, reference)
      : [{ target, label: target, options: storeOptions(target, base) }],
  );
}

export function referenceRows(
  scenario: Scenario,
  base: TargetOptions,
  reference: ReferenceRowSettings,
): BenchRow[] {
  const { runtimeRoot } = reference;
  if (runtimeRoot === undefined) return [];
  const onCluster = scenario.targets.includes("redis-cluster");
  // Its Cluster client needs a non-zero window (radix flushes on the window's timer there).
  const windows = onCluster ? reference.windows.filter((w) => !isZero(w)) : reference.windows;
  const caches = scenario.name === "flood" ? [0, reference.cacheBytes] : [0];
  return (windows.length > 0 ? windows : ["150us"]).flatMap((window) =>
    caches.map((cacheBytes) => {
      const settings: ReferenceSettings = { pipelineWindow: window, localCacheBytes: cacheBytes };
      return {
        target: "reference" as const,
        label: referenceLabel(settings),
        options: {
          ...storeOptions(onCluster ? "redis-cluster" : "redis", base),
          reference: { settings, runtimeRoot },
        },
      };
    }),
  );
}

export function referenceLabel(settings: ReferenceSettings): string {
  const cache =
    settings.localCacheBytes > 0 ? `, local cache ${Math.round(settings.localCacheBytes / 2 ** 20)} MiB` : "";
  return `reference, window ${settings.pipelineWindow}${cache}`;
}

/** The base options with only the store a target uses (none for the baselines and memory). */
export function storeOptions(target: TargetName | "redis", base: TargetOptions): TargetOptions {
  switch (target) {
    case "redis":
      return { ...base, cluster: undefined };
    case "redis-cluster":
      return { ...base, redis: undefined };
    case "reference":
      return base;
    default:
      return { ...base, redis: undefined, cluster: undefined };
  }
}

function isZero(window: string): boolean {
  return /^0+(\.0*)?[a-zµ]*$/i.test(window);
}
