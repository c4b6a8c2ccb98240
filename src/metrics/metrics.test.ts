import { describe, expect, it } from "vitest";
import type { Decision, RuleOutcome } from "../limiter/limiter-types.ts";
import { createMetrics, UNKNOWN_DOMAIN_LABEL } from "./metrics.ts";

function decision(code: Decision["code"], outcomes: RuleOutcome[]): Decision {
  return { code, statuses: [], responseHeaders: [], requestHeaders: [], outcomes };
}

function outcome(
  ruleId: string,
  code: RuleOutcome["code"],
  usedFraction: number,
  shadow = false,
): RuleOutcome {
  return { ruleId, code, usedFraction, shadow };
}

async function samples(metrics: ReturnType<typeof createMetrics>, name: string) {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.map((v) => ({ labels: v.labels, value: v.value }));
}

describe("createMetrics", () => {
  it("exports sluice_build_info = 1 labelled with the version and the Node version it is given", async () => {
    const metrics = createMetrics({ build: { version: "1.2.3", node: "v24.0.0" } });
    expect(await samples(metrics, "sluice_build_info")).toEqual([
      { labels: { version: "1.2.3", node: "v24.0.0" }, value: 1 },
    ]);
  });

  it("counts requests by overall code and outcomes by rule and the rule's own code", async () => {
    const metrics = createMetrics();
    metrics.recordDecision(
      "api",
      true,
      decision("OVER_LIMIT", [outcome("free_per_minute", "OVER_LIMIT", 1.05), outcome("api_key", "OK", 0.1)]),
    );
    metrics.recordDecision("api", true, decision("OK", [outcome("free_per_minute", "OK", 0.5)]));
    expect(await samples(metrics, "sluice_requests_total")).toEqual([
      { labels: { domain: "api", code: "OVER_LIMIT" }, value: 1 },
      { labels: { domain: "api", code: "OK" }, value: 1 },
    ]);
    expect(await samples(metrics, "sluice_decisions_total")).toEqual([
      { labels: { domain: "api", rule: "free_per_minute", code: "OVER_LIMIT" }, value: 1 },
      { labels: { domain: "api", rule: "api_key", code: "OK" }, value: 1 },
      { labels: { domain: "api", rule: "free_per_minute", code: "OK" }, value: 1 },
    ]);
  });

  it("counts shadow rules that would have refused, and passing outcomes at or above the near-limit ratio", async () => {
    const metrics = createMetrics({ nearLimitRatio: 0.75 });
    metrics.recordDecision(
      "api",
      true,
      decision("OK", [
        outcome("trial", "OVER_LIMIT", 1.2, true),
        outcome("trial", "OK", 0.9, true),
        outcome("plan", "OK", 0.75),
        outcome("plan", "OK", 0.74),
        outcome("plan", "OVER_LIMIT", 1.01),
      ]),
    );
    expect(await samples(metrics, "sluice_shadow_over_limit_total")).toEqual([
      { labels: { domain: "api", rule: "trial" }, value: 1 },
    ]);
    expect(await samples(metrics, "sluice_near_limit_total")).toEqual([
      { labels: { domain: "api", rule: "trial" }, value: 1 },
      { labels: { domain: "api", rule: "plan" }, value: 1 },
    ]);
  });

  it("folds every unknown domain into one label", async () => {
    const metrics = createMetrics();
    for (let i = 0; i < 1_000; i++) metrics.recordDecision(`random-${i}`, false, decision("OK", []));
    expect(await samples(metrics, "sluice_requests_total")).toEqual([
      { labels: { domain: UNKNOWN_DOMAIN_LABEL, code: "OK" }, value: 1_000 },
    ]);
  });

  it("tracks calls in flight and times each one", async () => {
    const metrics = createMetrics();
    const stopFirst = metrics.startCallTimer();
    const stopSecond = metrics.startCallTimer();
    expect(await samples(metrics, "sluice_in_flight_calls")).toEqual([{ labels: {}, value: 2 }]);
    stopFirst();
    stopSecond();
    expect(await samples(metrics, "sluice_in_flight_calls")).toEqual([{ labels: {}, value: 0 }]);
    const count = (await samples(metrics, "sluice_should_rate_limit_duration_seconds")).find(
      (s) => s.labels.le === "+Inf",
    );
    expect(count?.value).toBe(2);
  });

  it("reports policy loads, reload results and the time of the last success", async () => {
    const metrics = createMetrics();
    metrics.recordPolicyLoaded({ generation: 1, atMs: 1_700_000_000_000, reload: false });
    expect(await samples(metrics, "sluice_policy_reloads_total")).toEqual([
      { labels: { result: "success" }, value: 0 },
      { labels: { result: "failure" }, value: 0 },
    ]);
    metrics.recordPolicyReloadFailed();
    expect(await samples(metrics, "sluice_policy_last_reload_successful")).toEqual([
      { labels: {}, value: 0 },
    ]);
    metrics.recordPolicyLoaded({ generation: 2, atMs: 1_700_000_060_500, reload: true });
    expect(await samples(metrics, "sluice_policy_generation")).toEqual([{ labels: {}, value: 2 }]);
    expect(await samples(metrics, "sluice_policy_last_success_timestamp_seconds")).toEqual([
      { labels: {}, value: 1_700_000_060.5 },
    ]);
    expect(await samples(metrics, "sluice_policy_last_reload_successful")).toEqual([
      { labels: {}, value: 1 },
    ]);
    expect(await samples(metrics, "sluice_policy_reloads_total")).toEqual([
      { labels: { result: "success" }, value: 1 },
      { labels: { result: "failure" }, value: 1 },
    ]);
  });

  it("counts concurrency leases held per rule, queue waits, queue timeouts and expired leases", async () => {
    const metrics = createMetrics();
    const rule = { domain: "api", ruleId: "pro_in_flight" };
    metrics.recordLeaseEvent({ kind: "taken", ...rule, queued: false, waitedMs: 0 });
    metrics.recordLeaseEvent({ kind: "taken", ...rule, queued: false, waitedMs: 0 });
    metrics.recordLeaseEvent({ kind: "taken", ...rule, queued: true, waitedMs: 120 });
    metrics.recordLeaseEvent({ kind: "refused", ...rule, reason: "timeout", queued: true, waitedMs: 500 });
    metrics.recordLeaseEvent({ kind: "refused", ...rule, reason: "cancelled", queued: true, waitedMs: 30 });
    metrics.recordLeaseEvent({ kind: "freed", ...rule, released: 1, expired: 0 });
    metrics.recordLeaseEvent({ kind: "freed", ...rule, released: 0, expired: 1 });
    metrics.recordLeaseEvent({ kind: "freed", ...rule, released: 0, expired: 0 });
    const labels = { domain: "api", rule: "pro_in_flight" };
    expect(await samples(metrics, "sluice_concurrency_leases")).toEqual([{ labels, value: 1 }]);
    expect(await samples(metrics, "sluice_concurrency_queue_timeouts_total")).toEqual([{ labels, value: 1 }]);
    expect(await samples(metrics, "sluice_concurrency_expired_leases_total")).toEqual([{ labels, value: 1 }]);
    const counts = (await samples(metrics, "sluice_concurrency_queue_wait_seconds")).filter(
      (s) => s.labels.le === "+Inf",
    );
    expect(counts.map((s) => [s.labels.outcome, s.value])).toEqual([
      ["granted", 1],
      ["timeout", 1],
      ["cancelled", 1],
    ]);
  });

  it("exports no gauge named like a counter", async () => {
    const text = await createMetrics().registry.metrics();
    const misnamed = [...text.matchAll(/^# TYPE (\S+_total) (\w+)$/gm)].filter(
      ([, , type]) => type !== "counter",
    );
    expect(misnamed.map(([, name]) => name)).toEqual([]);
  });
});

describe("envoyproxy/ratelimit's stat names (its default statsd→Prometheus mapping)", () => {
  const reference = (
    statKey: string[],
    code: RuleOutcome["code"],
    usedFraction: number,
    hits: number,
    shadow = false,
  ) => ({
    ...outcome("rule", code, usedFraction, shadow),
    statKey,
    hits,
  });

  it("counts hits per rule as ratelimit_service_rate_limit_* with domain, key1 and key2", async () => {
    const metrics = createMetrics({ nearLimitRatio: 0.8 });
    const decide = (outcomes: RuleOutcome[]) =>
      metrics.recordDecision("mongo_cps", true, decision("OK", outcomes));
    decide([reference(["mongo_cps", "database_users"], "OK", 0.5, 1)]);
    decide([reference(["mongo_cps", "database_users"], "OK", 0.9, 2)]);
    decide([reference(["mongo_cps", "database_users"], "OVER_LIMIT", 1.2, 3)]);
    decide([reference(["mongo_cps", "message_type_marketing", "to_number"], "OVER_LIMIT", 2, 1, true)]);
    const users = { domain: "mongo_cps", key1: "database_users", key2: "" };
    const marketing = { domain: "mongo_cps", key1: "message_type_marketing", key2: "to_number" };
    expect(await samples(metrics, "ratelimit_service_rate_limit_total_hits")).toEqual([
      { labels: users, value: 6 },
      { labels: marketing, value: 1 },
    ]);
    expect(await samples(metrics, "ratelimit_service_rate_limit_within_limit")).toEqual([
      { labels: users, value: 3 },
    ]);
    expect(await samples(metrics, "ratelimit_service_rate_limit_near_limit")).toEqual([
      { labels: users, value: 2 },
    ]);
    expect(await samples(metrics, "ratelimit_service_rate_limit_over_limit")).toEqual([
      { labels: users, value: 3 },
      { labels: marketing, value: 1 },
    ]);
    expect(await samples(metrics, "ratelimit_service_rate_limit_shadow_mode")).toEqual([
      { labels: marketing, value: 1 },
    ]);
  });

  it("joins levels past the second into key2, so a deep rule keeps one series of its own", async () => {
    const metrics = createMetrics();
    metrics.recordDecision("d", true, decision("OK", [reference(["d", "a_1", "b", "c_2"], "OK", 0.1, 1)]));
    expect(await samples(metrics, "ratelimit_service_rate_limit_total_hits")).toEqual([
      { labels: { domain: "d", key1: "a_1", key2: "b.c_2" }, value: 1 },
    ]);
  });

  it("adds no reference series for an outcome without a stat key (an override, a concurrency lease)", async () => {
    const metrics = createMetrics();
    metrics.recordDecision("d", true, decision("OK", [outcome("rule", "OK", 0.1)]));
    expect(await samples(metrics, "ratelimit_service_rate_limit_total_hits")).toEqual([]);
  });
});
