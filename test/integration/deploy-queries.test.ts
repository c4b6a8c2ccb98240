import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { declaredMetricNames, sampledMetricNames, scrape } from "../support/metrics-text.ts";
import { type PrometheusServer, startPrometheus } from "../support/prometheus-server.ts";
import { labelValuesMetric, promqlMetricNames } from "../support/promql-metric-names.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { callOutcome } from "../support/steady-load.ts";

/**
 * The shipped Grafana dashboard and alert rules must query metrics Sluice really exports: the
 * names come from a scrape of a running Sluice on Redis after traffic that gives every metric a
 * series (decisions, leases queued, timed out and expired, the local cache, failure-policy
 * fallbacks once Redis is gone), and a real Prometheus must accept every expression.
 */

/** The metrics the dashboard must show and the alerts must watch, beyond decisions and latency. */
const CONCURRENCY = [
  "sluice_concurrency_leases",
  "sluice_concurrency_queue_wait_seconds_bucket",
  "sluice_concurrency_queue_timeouts_total",
  "sluice_concurrency_expired_leases_total",
];
const FALLBACKS_AND_CIRCUITS = ["sluice_store_fallbacks_total", "sluice_store_open_circuits"];
const LOCAL_CACHE = [
  "sluice_local_cache_hits_total",
  "sluice_local_cache_entries",
  "sluice_local_cache_evictions_total",
];

/** One call of the `dashboard` domain (test/fixtures/dashboard/traffic.yaml). */
function dashboardCall(key: string, value: string) {
  return { domain: "dashboard", descriptors: [{ entries: [{ key, value }] }] };
}

/** Traffic that leaves a series behind for every metric the dashboard and alerts read. */
async function driveEverySeries(client: RlsClient, redis: RedisServer): Promise<void> {
  const outcome = (request: ReturnType<typeof dashboardCall>) => callOutcome(client, request, 2_000);
  await outcome({ domain: "api", descriptors: [{ entries: [{ key: "api_key", value: "k" }] }] });
  // Leases: one held, a second queued 100 ms and refused, the first left to expire (1 s ttl), then
  // its release finds it expired.
  const lease = (kind: string, id: string) => ({
    domain: "dashboard",
    descriptors: [
      {
        entries: [
          { key: "tenant", value: "t" },
          { key: kind, value: id },
        ],
      },
    ],
  });
  expect(await outcome(lease("lease_acquire", "held"))).toMatch(/^OK/);
  expect(await outcome(lease("lease_acquire", "queued"))).toMatch(/^OVER_LIMIT/);
  await sleep(1_200);
  await outcome(lease("lease_release", "held"));
  // 1 an hour: near the limit, refused (now in the local cache of 1 entry), refused from the cache;
  // a second user's refusal evicts the first's entry. The shadow rule would have refused its second.
  for (const user of ["u1", "u1", "u1", "u2", "u2"]) await outcome(dashboardCall("user", user));
  for (let i = 0; i < 2; i++) await outcome(dashboardCall("shadow", "s"));
  // The domain's failure policy is `allow`: with Redis gone its calls are answered without it.
  await redis.stop();
  expect(await outcome(dashboardCall("user", "after-redis"))).toBe("OK");
}

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
  let redis: RedisServer;
  let sluice: SluiceProcess;
  let prometheus: PrometheusServer;
  /** Names with at least one series after the traffic: what a query of them finds. */
  let exported: Set<string>;
  let declared: Set<string>;

  beforeAll(async () => {
    redis = await startRedis();
    sluice = await startSluice([
      "--policy",
      "deploy/policies/api.yaml",
      "--policy",
      "test/fixtures/dashboard/traffic.yaml",
      "--redis-url",
      redis.url,
      "--local-cache-size",
      "1",
    ]);
    const client = createRlsClient(sluice.grpcAddress);
    await driveEverySeries(client, redis);
    client.close();
    const text = await scrape(sluice.adminUrl);
    exported = sampledMetricNames(text);
    declared = declaredMetricNames(text);
    prometheus = await startPrometheus(new URL(sluice.adminUrl).host);
  });

  afterAll(async () => {
    await prometheus?.stop();
    await sluice?.stop();
    await redis?.stop();
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
    // Sampled is stricter than declared: a labelled metric declares itself before its first event.
    expect([...exported].filter((name) => !declared.has(name))).toEqual([]);
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
      ...CONCURRENCY,
      ...FALLBACKS_AND_CIRCUITS,
      ...LOCAL_CACHE,
    ]) {
      expect(used, `the dashboard should show ${name}`).toContain(name);
    }
  });

  it("the alert rules query only exported metrics, and watch concurrency, fallbacks and circuits", async () => {
    const used = new Set<string>();
    for (const { where, expr } of await alertQueries()) {
      for (const name of promqlMetricNames(expr)) {
        used.add(name);
        expect(exported.has(name), `${where} reads ${name}, which Sluice does not export`).toBe(true);
      }
    }
    for (const name of [
      "sluice_concurrency_queue_timeouts_total",
      "sluice_concurrency_expired_leases_total",
      ...FALLBACKS_AND_CIRCUITS,
    ]) {
      expect(used, `an alert should watch ${name}`).toContain(name);
    }
  });

  it("a real Prometheus accepts every dashboard and alert expression", async () => {
    for (const { where, expr } of [...(await dashboardQueries()), ...(await alertQueries())]) {
      await expect(prometheus.query(expandGrafanaVariables(expr)), where).resolves.toBeDefined();
    }
  });
});
