import { spawnSync } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const DIR = "deploy/prometheus";

function promtool(...args: string[]) {
  const result = spawnSync("promtool", args, { encoding: "utf8", timeout: 60_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

interface RuleFile {
  groups: { rules: { alert?: string }[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
}

describe("deploy/prometheus", () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "sluice-rules-"));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("prometheus.yml is a valid config that loads alerts.yml", async () => {
    const result = promtool("check", "config", join(DIR, "prometheus.yml"));
    expect(result.output).toMatch(/SUCCESS: 1 rule files found/);
    expect(result.code).toBe(0);
    const config = parse(await readFile(join(DIR, "prometheus.yml"), "utf8")) as {
      rule_files: string[];
      scrape_configs: { job_name: string; metrics_path?: string }[];
    };
    expect(config.rule_files).toEqual(["alerts.yml"]);
    expect(config.scrape_configs.map((job) => [job.job_name, job.metrics_path ?? "/metrics"])).toEqual([
      ["sluice", "/metrics"],
      ["envoy", "/stats/prometheus"],
    ]);
  });

  it("alerts.yml passes promtool check rules without warnings", () => {
    const result = promtool("check", "rules", join(DIR, "alerts.yml"));
    expect(result.output).toMatch(/SUCCESS: 11 rules found/);
    expect(result.output).not.toMatch(/WARNING/i);
    expect(result.code).toBe(0);
  });

  it("alerts.test.yml passes promtool test rules and shows every alert firing at least once", async () => {
    const result = promtool("test", "rules", join(DIR, "alerts.test.yml"));
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.code).toBe(0);

    const rules = parse(await readFile(join(DIR, "alerts.yml"), "utf8")) as RuleFile;
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    const tests = parse(await readFile(join(DIR, "alerts.test.yml"), "utf8")) as RuleTests;
    const fired = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname),
      ),
    );
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    expect(alerts.filter((alert) => !fired.has(alert))).toEqual([]);
  });

  it("the rule tests catch a broken rule (they can fail)", async () => {
    const rules = await readFile(join(DIR, "alerts.yml"), "utf8");
    expect(rules).toContain("expr: sluice_store_up == 0");
    await writeFile(
      join(scratch, "alerts.yml"),
      rules.replace("sluice_store_up == 0", "sluice_store_up == 2"),
    );
    await copyFile(join(DIR, "alerts.test.yml"), join(scratch, "alerts.test.yml"));
    const result = promtool("test", "rules", join(scratch, "alerts.test.yml"));
    expect(result.output).toMatch(/SluiceStoreDown/);
    expect(result.code).not.toBe(0);
  });
});
