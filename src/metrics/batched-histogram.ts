import type { Histogram, Registry } from "prom-client";

/**
 * An unlabelled histogram for per-call durations, exported exactly as a prom-client Histogram with
 * the same name and buckets (the test compares the two expositions). prom-client's `observe` checks
 * and hashes a label set and `startTimer` allocates per call; here an observation is a bucket search
 * over a few numbers and three additions. The registry reads it through `get()` like any metric, so
 * the --workers primary aggregates it by summing, as it does prom-client's histograms.
 */
export interface BatchedHistogram {
  observe(value: number): void;
}

export function batchedHistogram(config: {
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];
  readonly registers: Registry[];
}): BatchedHistogram {
  const { name, help } = config;
  const bounds = [...config.buckets].sort((a, b) => a - b);
  /** Observations per bucket, not cumulative; index bounds.length holds those above every bound. */
  const counts = new Float64Array(bounds.length + 1);
  let sum = 0;
  let count = 0;

  const values = () => {
    let cumulative = 0;
    const buckets = bounds.map((le, i) => {
      cumulative += counts[i] ?? 0;
      return { labels: { le }, value: cumulative, metricName: `${name}_bucket` };
    });
    return [
      ...buckets,
      { labels: { le: "+Inf" }, value: count, metricName: `${name}_bucket` },
      { labels: {}, value: sum, metricName: `${name}_sum` },
      { labels: {}, value: count, metricName: `${name}_count` },
    ];
  };
  const metric = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get: async () => ({ name, help, type: "histogram", values: values(), aggregator: "sum" }),
    reset() {
      counts.fill(0);
      sum = 0;
      count = 0;
    },
  };
  // The registry needs only these members of a metric; prom-client's types name its own classes.
  for (const registry of config.registers) registry.registerMetric(metric as unknown as Histogram);

  return {
    observe(value) {
      let i = 0;
      while (i < bounds.length && value > (bounds[i] as number)) i++;
      counts[i] = (counts[i] ?? 0) + 1;
      sum += value;
      count++;
    },
  };
}
