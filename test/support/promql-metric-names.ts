/**
 * The metric names a PromQL expression (as written in a Grafana dashboard or an alert rule) reads.
 * Not a parser: it strips what cannot be a metric name (strings, label matchers, ranges, grouping
 * clauses, Grafana variables) and keeps the identifiers that are not functions or keywords. Enough
 * for the expressions we ship, and the tests feed it known expressions to keep it honest.
 */
const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "and",
  "or",
  "unless",
  "inf",
  "nan",
]);

export function promqlMetricNames(expression: string): Set<string> {
  const stripped = expression
    .replace(/\$\{[^}]*\}|\$\w+/g, " ")
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    const name = match[1] as string;
    if (!KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return names;
}

/** The metric a Grafana `label_values(metric{...}, label)` variable query reads, if any. */
export function labelValuesMetric(query: string): string | undefined {
  return /label_values\(\s*([a-zA-Z_:][\w:]*)/.exec(query)?.[1];
}
