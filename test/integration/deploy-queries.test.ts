import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { declaredMetricNames, scrape } from "../support/metrics-text.ts";
import { type PrometheusServer, startPrometheus } from "../support/prometheus-server.ts";
import { labelValuesMetric, promqlMetricNames } from "../support/promql-metric-names.ts";
import { createRlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

/**
 * The shipped Grafana dashboard and alert rules must query metrics Sluice really exports: the
 * names come from a scrape of a running Sluice, and a real Prometheus must accept every expression.
 */

interface Panel {
  title?: string;
  type: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

async function dashboardQueries(): Promise<{ where: string; expr: string }[]> {
  const dashboard = JSON.parse(await readFile("deploy/grafana/sluice-dashboard.json", "utf8")) as Dashboard;
  const flat = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...flat(p.panels ?? [])]);
  return flat(dashboard.panels).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr ?? "" })),
  );
}

async function alertQueries(): Promise<{ where: string; expr: string }[]> {
  const rules = parse(await readFile("deploy/prometheus/alerts.yml", "utf8")) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
}

/** Grafana's variables as a dashboard would expand them with "All" selected. */
function expandGrafanaVariables(expr: string): string {
  return expr.replaceAll("$__rate_interval", "1m").replaceAll("$job", ".*").replaceAll("$domain", ".*");
}

describe("metric names in deploy/grafana and deploy/prometheus", () => {
  let sluice: SluiceProcess;
  let prometheus: PrometheusServer;
  let exported: Set<string>;

  beforeAll(async () => {
    sluice = await startSluice(["--policy", "deploy/policies/api.yaml"]);
    const client = createRlsClient(sluice.grpcAddress);
    await client.shouldRateLimit({
      domain: "api",
      descriptors: [{ entries: [{ key: "api_key", value: "k" }] }],
    });
    client.close();
    exported = declaredMetricNames(await scrape(sluice.adminUrl));
    prometheus = await startPrometheus(new URL(sluice.adminUrl).host);
  });

  afterAll(async () => {
    await prometheus?.stop();
    await sluice?.stop();
  });

  it("reads metric names out of PromQL, and a made-up name is not among the exported ones", () => {
    expect([
      ...promqlMetricNames(
        'histogram_quantile(0.99, sum by (instance, le) (rate(a_seconds_bucket{job=~"$job", x="y(z)"}[$__rate_interval]))) / on(i) group_left(j) b_total offset 5m > bool 1e3',
      ),
    ]).toEqual(["a_seconds_bucket", "b_total"]);
    expect([...promqlMetricNames("time() - min(c_timestamp_seconds)")]).toEqual(["c_timestamp_seconds"]);
    expect(labelValuesMetric('label_values(sluice_requests_total{job=~"$job"}, domain)')).toBe(
      "sluice_requests_total",
    );
    expect(exported.has("sluice_requests_total")).toBe(true);
    expect(exported.has("sluice_should_rate_limit_duration_seconds_bucket")).toBe(true);
    expect(exported.has("sluice_rule_decisions_total")).toBe(false);
  });

  it("the dashboard queries only exported metrics, covering decisions, latency, store and reloads", async () => {
    const queries = await dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(15);
    const used = new Set<string>();
    for (const { where, expr } of queries) {
      const names = promqlMetricNames(expr);
      expect(names.size, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        used.add(name);
        expect(exported.has(name), `${where} reads ${name}, which Sluice does not export`).toBe(true);
      }
    }
    const dashboard = JSON.parse(await readFile("deploy/grafana/sluice-dashboard.json", "utf8")) as Dashboard;
    for (const variable of dashboard.templating.list.filter((v) => v.type === "query")) {
      const query = typeof variable.query === "string" ? variable.query : (variable.query?.query ?? "");
      const metric = labelValuesMetric(query);
      expect(metric !== undefined && exported.has(metric), `variable ${variable.name}: ${query}`).toBe(true);
    }
    for (const name of [
      "sluice_requests_total",
      "sluice_decisions_total",
      "sluice_should_rate_limit_duration_seconds_bucket",
      "sluice_store_charge_duration_seconds_bucket",
      "sluice_store_up",
      "sluice_store_errors_total",
      "sluice_policy_reloads_total",
      "sluice_policy_generation",
    ]) {
      expect(used, `the dashboard should show ${name}`).toContain(name);
    }
  });

  it("the alert rules query only exported metrics", async () => {
    for (const { where, expr } of await alertQueries()) {
      for (const name of promqlMetricNames(expr)) {
        expect(exported.has(name), `${where} reads ${name}, which Sluice does not export`).toBe(true);
      }
    }
  });

  it("a real Prometheus accepts every dashboard and alert expression", async () => {
    for (const { where, expr } of [...(await dashboardQueries()), ...(await alertQueries())]) {
      await expect(prometheus.query(expandGrafanaVariables(expr)), where).resolves.toBeDefined();
    }
  });
});
