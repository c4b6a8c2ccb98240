/** One reading of the server's own memory metrics. */
export interface MemorySample {
  /** ms since the run started. */
  readonly atMs: number;
  /** process_resident_memory_bytes */
  readonly rssBytes: number;
  /** nodejs_heap_size_used_bytes */
  readonly heapUsedBytes: number;
}

export interface MemoryGrowth {
  /** Samples taken after warm-up. */
  readonly samples: number;
  /** Median RSS of the last third of the steady samples minus that of the first third. */
  readonly rssGrowthBytes: number;
  /**
   * Lowest heap in use in the last third minus the lowest in the first third. The heap saws up and
   * down with garbage collection; its floor is what live objects hold, so a leak raises the floor.
   */
  readonly heapFloorGrowthBytes: number;
  readonly rssFirstBytes: number;
  readonly rssLastBytes: number;
}

/**
 * How much the server's memory grew once warm: samples before `warmupMs` are dropped (JIT, pools
 * and caches filling up are not leaks), the rest split in thirds, first and last compared by robust
 * statistics so one GC pause or one allocation burst does not decide. Pure.
 */
export function memoryGrowth(all: readonly MemorySample[], warmupMs: number): MemoryGrowth {
  const steady = all.filter((s) => s.atMs >= warmupMs);
  if (steady.length < 3) throw new Error(`need at least 3 samples after warm-up, got ${steady.length}`);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const first = steady.slice(0, third);
  const last = steady.slice(-third);
  const rssFirst = median(first.map((s) => s.rssBytes));
  const rssLast = median(last.map((s) => s.rssBytes));
  return {
    samples: steady.length,
    rssGrowthBytes: rssLast - rssFirst,
    heapFloorGrowthBytes:
      Math.min(...last.map((s) => s.heapUsedBytes)) - Math.min(...first.map((s) => s.heapUsedBytes)),
    rssFirstBytes: rssFirst,
    rssLastBytes: rssLast,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
