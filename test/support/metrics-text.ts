/**
 * Reading Prometheus text exposition as the tests need it: series with their values, and the
 * metric names a scrape declares.
 */

/** GET /metrics of a running Sluice. */
export async function scrape(adminUrl: string): Promise<string> {
  const response = await fetch(`${adminUrl}/metrics`);
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}

/** Every sample line as `name{labels}` → value. */
export function parseSeries(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(\S+?(?:\{.*\})?)\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (match?.[1] !== undefined) series.set(match[1], Number(match[2]));
  }
  return series;
}

/** The value of one series, e.g. `sluice_policy_reloads_total{result="failure"}`; undefined if absent. */
export function seriesValue(text: string, series: string): number | undefined {
  return parseSeries(text).get(series);
}

/**
 * Names of the metrics a scrape declares (`# TYPE` lines), histograms and summaries expanded to
 * the series names PromQL sees, so a declared metric counts even before it has a sample.
 */
export function declaredMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (name === undefined) continue;
    names.add(name);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(name + suffix);
  }
  return names;
}

/** Names of the metrics a scrape has at least one sample of, as PromQL sees them (`x_bucket`, not `x`). */
export function sampledMetricNames(text: string): Set<string> {
  return new Set([...parseSeries(text).keys()].map((series) => series.replace(/\{.*$/, "")));
}
