import { setFlagsFromString } from "node:v8";

const PRETENURING = "allocation-site-pretenuring";

/**
 * V8 settings for a serving process, applied to the running VM before it serves.
 *
 * Allocation-site pretenuring is off. V8 allocates the objects of an allocation site straight in the
 * old generation once most of them have outlived a scavenge, and a site marked so stays marked: its
 * objects no longer start young, so nothing shows that they die young again. A burst of calls (the
 * bench's closed-loop warm-up, 50 in flight) marks the sites of per-call objects; afterwards every
 * call leaves them in the old generation, and only a full collection, the longest pause, frees them.
 * Measured with `bench/gc-pairs.ts` (bench/RESULTS.md, "Allocation-site pretenuring off").
 */
export function tuneV8ForServing(execArgv: readonly string[] = process.execArgv): void {
  for (const flag of v8FlagsForServing(execArgv)) setFlagsFromString(flag);
}

/** The V8 flags tuneV8ForServing sets: none that a node flag of the process already names. */
export function v8FlagsForServing(execArgv: readonly string[]): string[] {
  const named = (name: string) => execArgv.some((flag) => flag.replaceAll("_", "-").includes(name));
  return named(PRETENURING) ? [] : [`--no-${PRETENURING}`];
}
