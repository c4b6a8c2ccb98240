import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.ts";
import { scrape } from "../support/metrics-text.ts";
import { type RunningProcess, startProcess } from "../support/process.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

/**
 * A real Prometheus (the Debian package's binary) scraping a running Sluice every second while a
 * short scripted load runs; the counts come back through PromQL over its HTTP API.
 */

async function startPrometheus(
  dir: string,
  target: string,
): Promise<{ url: string; process: RunningProcess }> {
  const config = join(dir, "prometheus.yml");
  await writeFile(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "scrape_configs:",
      "  - job_name: sluice",
      "    static_configs:",
      `      - targets: ["${target}"]`,
      "",
    ].join("\n"),
  );
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    try {
      const process = await startProcess({
        name: "prometheus",
        command: "prometheus",
        args: [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        ready: { probe: async () => (await fetch(`${url}/-/ready`)).ok },
      });
      return { url, process };
    } catch (error) {
      // The port was taken between freePort() and Prometheus binding it: try another.
      if (attempt >= 3 || !String(error).includes("address already in use")) throw error;
    }
  }
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(prometheusUrl: string, promql: string): Promise<VectorSample[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; data: { result: VectorSample[] } };
  if (body.status !== "success") throw new Error(`query failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** `label value → sample value` of an instant vector, e.g. `{ OK: 20, OVER_LIMIT: 5 }` by code. */
async function byLabel(
  prometheusUrl: string,
  promql: string,
  label: string,
): Promise<Record<string, number>> {
  const samples = await query(prometheusUrl, promql);
  return Object.fromEntries(samples.map((s) => [s.metric[label] ?? "", Number(s.value[1])]));
}

describe("Prometheus scraping a running Sluice", () => {
  let dir: string;
  let sluice: SluiceProcess;
  let client: RlsClient;
  let prometheus: { url: string; process: RunningProcess } | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-prometheus-"));
    sluice = await startSluice(["--policy", "deploy/policies/api.yaml"]);
    client = createRlsClient(sluice.grpcAddress);
    prometheus = await startPrometheus(dir, new URL(sluice.adminUrl).host);
  });

  afterAll(async () => {
    client?.close();
    await prometheus?.process.stop();
    await sluice?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("returns the decision counts of a scripted load through PromQL", async () => {
    const url = prometheus?.url ?? "";
    // 25 Free-plan calls for one tenant: 20 admitted (20/minute), 5 refused. 3 calls to an unknown domain.
    for (let i = 0; i < 25; i++) {
      await client.shouldRateLimit({
        domain: "api",
        descriptors: [
          {
            entries: [
              { key: "tenant", value: "acme" },
              { key: "plan", value: "free" },
            ],
          },
        ],
      });
    }
    for (let i = 0; i < 3; i++) {
      await client.shouldRateLimit({
        domain: "nobody",
        descriptors: [{ entries: [{ key: "a", value: "b" }] }],
      });
    }

    await expect
      .poll(() => byLabel(url, 'sum by (code) (sluice_requests_total{domain="api"})', "code"), {
        timeout: 30_000,
        interval: 250,
      })
      .toEqual({ OK: 20, OVER_LIMIT: 5 });
    expect(
      await byLabel(
        url,
        'sum by (code) (sluice_decisions_total{domain="api", rule="free_per_minute"})',
        "code",
      ),
    ).toEqual({ OK: 20, OVER_LIMIT: 5 });
    expect(await byLabel(url, "sum by (domain) (sluice_requests_total)", "domain")).toEqual({
      api: 25,
      "(unknown)": 3,
    });
    expect(await byLabel(url, 'up{job="sluice"}', "job")).toEqual({ sluice: 1 });
    expect(await byLabel(url, "sluice_store_up", "job")).toEqual({ sluice: 1 });
    expect(await byLabel(url, "sluice_policy_generation", "job")).toEqual({ sluice: 1 });
  });

  it("serves /metrics that promtool check metrics accepts without a warning", async () => {
    const text = await scrape(sluice.adminUrl);
    expect(text).toMatch(/^sluice_requests_total\{/m);
    const result = spawnSync("promtool", ["check", "metrics"], {
      input: text,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(`${result.stdout}${result.stderr}`).toBe("");
    expect(result.status).toBe(0);
  });

  it("the promtool check fails on a misnamed metric (it can fail)", () => {
    const bad =
      "# HELP sluice_bad_total A gauge named like a counter.\n# TYPE sluice_bad_total gauge\nsluice_bad_total 1\n";
    const result = spawnSync("promtool", ["check", "metrics"], {
      input: bad,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(`${result.stdout}${result.stderr}`).toMatch(/_total/);
    expect(result.status).not.toBe(0);
  });
});
