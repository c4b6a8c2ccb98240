import { AggregatorRegistry, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { batchedHistogram } from "./batched-histogram.ts";

const BUCKETS = [0.001, 0.01, 0.1];
// On a bound, above every bound, below the first, and in between: every branch of the bucket search.
const OBSERVED = [0.0005, 0.001, 0.004, 0.01, 0.05, 0.1, 0.2, 3];

function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const config = { name: "t_seconds", help: "test", buckets: BUCKETS };
  return {
    ours,
    theirs,
    batched: batchedHistogram({ ...config, registers: [ours] }),
    reference: new Histogram({ ...config, registers: [theirs] }),
  };
}

async function valuesOf(registry: Registry) {
  const [metric] = await registry.getMetricsAsJSON();
  return metric?.values.map((v) => ({
    labels: v.labels,
    value: v.value,
    metricName: (v as { metricName?: string }).metricName,
  }));
}

describe("batchedHistogram", () => {
  it("exposes exactly what a prom-client Histogram with the same observations exposes", async () => {
    const { ours, theirs, batched, reference } = pair();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const value of OBSERVED) {
      batched.observe(value);
      reference.observe(value);
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('t_seconds_bucket{le="0.01"} 4');
    expect(text).toContain('t_seconds_bucket{le="+Inf"} 8');
    // As JSON too (what a --workers primary reads), exemplars aside: this histogram keeps none.
    expect(await valuesOf(ours)).toEqual(await valuesOf(theirs));
  });

  it("starts again from zero after a registry reset", async () => {
    const { ours, theirs, batched, reference } = pair();
    batched.observe(0.5);
    reference.observe(0.5);
    ours.resetMetrics();
    theirs.resetMetrics();
    batched.observe(0.002);
    reference.observe(0.002);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("sums over workers like a prom-client histogram when the primary aggregates", async () => {
    const { ours, batched } = pair();
    batched.observe(0.002);
    const worker = await ours.getMetricsAsJSON();
    const merged = await AggregatorRegistry.aggregate([worker, worker]).metrics();
    expect(merged).toContain('t_seconds_bucket{le="0.01"} 2');
    expect(merged).toContain("t_seconds_count 2");
  });
});
