import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { startProcess } from "./process.ts";

/**
 * A real Prometheus (the Debian package's `prometheus` binary) for tests: one scrape job every
 * second against a loopback target, its TSDB in a temp dir, its HTTP API on a free loopback port,
 * stopped by its own PID.
 */
export interface PrometheusServer {
  readonly url: string;
  /** An instant query through /api/v1/query; rejects when Prometheus refuses the expression. */
  query(promql: string): Promise<VectorSample[]>;
  stop(): Promise<void>;
}

export interface VectorSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** `target` is `host:port` of a /metrics endpoint, scraped as job `sluice`. */
export async function startPrometheus(target: string): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), "sluice-prometheus-"));
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
  try {
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
        return {
          url,
          query: (promql) => query(url, promql),
          async stop() {
            await process.stop();
            await rm(dir, { recursive: true, force: true });
          },
        };
      } catch (error) {
        // The port was taken between freePort() and Prometheus binding it: try another.
        if (attempt >= 3 || !String(error).includes("address already in use")) throw error;
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function query(url: string, promql: string): Promise<VectorSample[]> {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: VectorSample[] | [number, string] };
  };
  if (body.status !== "success" || body.data === undefined) {
    throw new Error(`Prometheus refused ${promql}: ${body.error ?? JSON.stringify(body)}`);
  }
  // A scalar expression (e.g. time() - ...) answers one [time, value] pair, not a vector.
  return body.data.resultType === "vector" ? (body.data.result as VectorSample[]) : [];
}
