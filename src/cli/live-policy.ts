import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { loadPolicies } from "../policy/load-policies.ts";
import { createPolicyReloader, type ReloadOutcome } from "../policy/policy-reloader.ts";
import type { PolicyError, PolicyTable } from "../policy/policy-types.ts";
import { watchPolicyPaths } from "../policy/policy-watcher.ts";

export interface LivePolicyOptions {
  readonly paths: readonly string[];
  /** The table `serve` loaded and validated before starting, and the warnings that load gave. */
  readonly initial: PolicyTable;
  readonly initialWarnings?: readonly PolicyError[];
  /** Files naming one domain are merged (MERGE_DOMAIN_CONFIG), on every reload as at start. */
  readonly mergeDomains?: boolean;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Wall-clock time in ms, for the last-success timestamp. */
  readonly now?: () => number;
}

export interface LivePolicy {
  /** The live table; the limiter reads it once per call. */
  readonly policy: () => PolicyTable;
  /** Whether a policy has ever loaded (for /readyz). */
  readonly loaded: () => boolean;
  readonly generation: () => number;
  /** Loads the policy paths again now, as SIGHUP does. */
  reload(trigger: string): Promise<ReloadOutcome>;
  /** Calls `listener` after each successful reload, once the new table is live (RLQS pushes new assignments). */
  onReloaded(listener: () => void): void;
  close(): void;
}

/**
 * Keeps the policy live: reloads on changes under the `--policy` paths and on SIGHUP, swaps in a
 * valid set, keeps the last good one otherwise, and reports each reload as one log line and in
 * the metrics.
 */
export async function startLivePolicy(options: LivePolicyOptions): Promise<LivePolicy> {
  const { metrics, logger } = options;
  const now = options.now ?? Date.now;
  metrics.recordPolicyLoaded({ generation: 1, atMs: now(), reload: false });
  logWarnings(logger, options.initialWarnings ?? [], 1);

  const reloadListeners: (() => void)[] = [];
  const reloader = createPolicyReloader({
    initial: options.initial,
    load: () => loadPolicies(options.paths, { mergeDomains: options.mergeDomains }),
    onReload(outcome, trigger) {
      if (outcome.ok) {
        logWarnings(logger, outcome.warnings, outcome.generation);
        metrics.recordPolicyLoaded({ generation: outcome.generation, atMs: now(), reload: true });
        logger.info(
          { trigger, generation: outcome.generation, domains: [...outcome.table.domains.keys()] },
          "policy reloaded",
        );
        for (const listener of reloadListeners) listener();
      } else {
        metrics.recordPolicyReloadFailed();
        logger.error(
          { trigger, generation: outcome.generation, errors: outcome.errors },
          "policy reload failed; keeping the last good policy",
        );
      }
    },
  });

  const watcher = await watchPolicyPaths({
    paths: options.paths,
    onChange: () => void reloader.reload("file change"),
    onError: (error, directory) =>
      logger.warn({ directory, err: String(error) }, "policy watch failed; reload with SIGHUP"),
  });
  const onHangup = () => void reloader.reload("SIGHUP");
  process.on("SIGHUP", onHangup);

  return {
    policy: reloader.current,
    loaded: () => reloader.generation() >= 1,
    generation: reloader.generation,
    reload: (trigger) => reloader.reload(trigger),
    onReloaded: (listener) => reloadListeners.push(listener),
    close() {
      process.off("SIGHUP", onHangup);
      watcher.close();
    },
  };
}

/** One line per warning, at each load: a policy that loads only because the reference accepts it. */
function logWarnings(logger: Logger, warnings: readonly PolicyError[], generation: number): void {
  for (const { file, path, message } of warnings) {
    logger.warn({ generation, file, path, warning: message }, "policy loaded with a warning");
  }
}
