/** Latency percentiles of one run, in milliseconds. */
export interface LatencyPercentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
}

/**
 * Nearest-rank percentiles (the smallest sample with at least q of all samples at or below it).
 * ghz reports only up to p99, so p99.9 is taken from its per-call details here. NaN when empty.
 */
export function percentiles(samples: readonly number[]): LatencyPercentiles {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => {
    if (sorted.length === 0) return Number.NaN;
    const rank = Math.ceil(q * sorted.length);
    return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
  };
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999) };
}
