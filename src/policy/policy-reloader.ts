import type { PolicyError, PolicyLoadResult, PolicyTable } from "./policy-types.ts";

export type ReloadOutcome =
  | {
      readonly ok: true;
      readonly generation: number;
      readonly table: PolicyTable;
      /** The loaded policy's warnings (see PolicyLoadResult). */
      readonly warnings: readonly PolicyError[];
    }
  | { readonly ok: false; readonly generation: number; readonly errors: readonly PolicyError[] };

export interface PolicyReloaderOptions {
  /** The table loaded at start; it is generation 1. */
  readonly initial: PolicyTable;
  /** Reads and validates the whole policy set again (loadPolicies over the configured paths). */
  readonly load: () => Promise<PolicyLoadResult>;
  /** Told about every finished reload, with what triggered it (`SIGHUP`, `file change`). */
  readonly onReload?: (outcome: ReloadOutcome, trigger: string) => void;
}

export interface PolicyReloader {
  /**
   * The live table. Callers read it once per request, so a call that started on one generation
   * finishes on it even if a reload swaps the table meanwhile.
   */
  current(): PolicyTable;
  /** How many tables have gone live, the startup one included. */
  generation(): number;
  /**
   * Loads the policy again: a valid set replaces the live table in one assignment; an invalid one
   * leaves it as it was. Reloads run one at a time. A trigger that arrives while one runs gets a
   * fresh load after it (the running one may have read the files before the change), and triggers
   * arriving while that one waits share it.
   */
  reload(trigger: string): Promise<ReloadOutcome>;
}

export function createPolicyReloader(options: PolicyReloaderOptions): PolicyReloader {
  let table = options.initial;
  let generation = 1;
  let tail: Promise<unknown> = Promise.resolve();
  let waiting: Promise<ReloadOutcome> | undefined;

  const run = async (trigger: string): Promise<ReloadOutcome> => {
    const loaded = await options.load().catch(
      (error: unknown): PolicyLoadResult => ({
        ok: false,
        errors: [{ file: "(policy)", path: "", message: `load failed: ${String(error)}` }],
      }),
    );
    let outcome: ReloadOutcome;
    if (loaded.ok) {
      table = loaded.table;
      generation += 1;
      outcome = { ok: true, generation, table, warnings: loaded.warnings };
    } else {
      outcome = { ok: false, generation, errors: loaded.errors };
    }
    options.onReload?.(outcome, trigger);
    return outcome;
  };

  return {
    current: () => table,
    generation: () => generation,
    reload(trigger) {
      if (waiting !== undefined) return waiting;
      const next = tail.then(() => {
        waiting = undefined;
        return run(trigger);
      });
      waiting = next;
      tail = next.catch(() => undefined);
      return next;
    },
  };
}
