// `npm run bench:rlqs`: requests per second through one Envoy in front of one upstream, with Envoy's
// per-request rate_limit filter asking Sluice about every request (RLS) and with its rate_limit_quota
// filter deciding locally from Sluice's assignments (RLQS), same binary, same policy, same tenant,
// well under its limit (every request admitted: the figure is the cost of asking). Measures RPS,
// client p50/p99 and the CPU time Sluice and Envoy spend per 1,000 requests, from /proc.
//
//   node bench/rlqs-vs-rls.ts [--duration 10] [--concurrency 32] [--store memory --store redis] [--smoke]
//
// Every process runs on loopback and is stopped by its PID; each measurement gets a fresh Sluice and
// Envoy. The load generator runs in this process (bench/http-load.ts), so it shares the machine.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { type HostPort, type RunningEnvoy, startEnvoyOnConfig } from "../test/support/envoy.ts";
import { startProcess } from "../test/support/process.ts";
import { type RedisServer, startRedis } from "../test/support/redis-server.ts";
import { renderRlqsEnvoyConfig, TENANT_HEADER } from "../test/support/rlqs-envoy-config.ts";
import { renderRlsEnvoyConfig } from "../test/support/rls-envoy-config.ts";
import { startSluice } from "../test/support/sluice-process.ts";
import { ROOT } from "./ghz-run.ts";
import { type HttpLoadResult, runHttpLoad } from "./http-load.ts";
import { loadAverages, machineInfo } from "./machine-info.ts";
import { processTreeCpuMs } from "./process-cpu.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    concurrency: { type: "string", default: "32" },
    store: { type: "string", multiple: true },
    smoke: { type: "boolean", default: false },
  },
});
const smoke = values.smoke;
const durationMs = (smoke ? 1 : Number(values.duration)) * 1000;
const concurrency = smoke ? 4 : Number(values.concurrency);
const stores = (values.store ?? (smoke ? ["memory"] : ["memory", "redis"])) as Store[];
/** Load before the measurement: connections opened, and RLQS's bucket subscribed and assigned. */
const WARMUP_MS = smoke ? 500 : 2_000;

type Store = "memory" | "redis";
type Protocol = "rls" | "rlqs";

// A per-minute limit the run cannot reach (10 s at well under 10^5 RPS): every request is admitted.
const POLICY = `
domain: sluice
descriptors:
  - key: tenant
    rate_limit: { unit: minute, requests_per_unit: 100000000 }
`;

interface Row {
  readonly store: Store;
  readonly protocol: Protocol;
  readonly load: HttpLoadResult;
  /** CPU ms per 1,000 admitted requests. */
  readonly sluiceCpu: number;
  readonly envoyCpu: number;
  readonly loadBefore: string;
  readonly loadAfter: string;
}

const at = (port: number): HostPort => ({ host: "127.0.0.1", port });

async function measure(
  store: Store,
  protocol: Protocol,
  upstream: HostPort,
  redis: RedisServer | undefined,
  dir: string,
): Promise<Row> {
  const sluice = await startSluice(["--policy", dir, ...(redis ? ["--redis-url", redis.url] : [])]);
  let envoy: RunningEnvoy | undefined;
  try {
    const service = at(Number(sluice.grpcAddress.split(":")[1]));
    const common = { listener: at(0), admin: at(0), upstream };
    const config =
      protocol === "rls"
        ? renderRlsEnvoyConfig({ ...common, rls: service })
        : renderRlqsEnvoyConfig({ ...common, rlqs: service });
    envoy = await startEnvoyOnConfig(config);
    const target = { url: `${envoy.url}/api/health`, headers: { [TENANT_HEADER]: "bench" }, concurrency };
    await runHttpLoad({ ...target, durationMs: WARMUP_MS });
    const loadBefore = loadAverages();
    const cpuBefore = await Promise.all([processTreeCpuMs(sluice.pid), processTreeCpuMs(envoy.process.pid)]);
    const load = await runHttpLoad({ ...target, durationMs });
    const cpuAfter = await Promise.all([processTreeCpuMs(sluice.pid), processTreeCpuMs(envoy.process.pid)]);
    const perThousand = (i: number) =>
      (((cpuAfter[i] ?? 0) - (cpuBefore[i] ?? 0)) * 1000) / Math.max(1, load.ok);
    return {
      store,
      protocol,
      load,
      sluiceCpu: perThousand(0),
      envoyCpu: perThousand(1),
      loadBefore,
      loadAfter: loadAverages(),
    };
  } finally {
    await envoy?.stop();
    await sluice.stop();
  }
}

function report(rows: readonly Row[]): string {
  const lines = [
    "| store | Envoy filter | RPS | p50 ms | p99 ms | Sluice CPU ms / 1,000 req | Envoy CPU ms / 1,000 req | requests | errors | load before → after |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    const { load } = row;
    lines.push(
      `| ${row.store} | ${row.protocol === "rls" ? "rate_limit (RLS)" : "rate_limit_quota (RLQS)"} | ${load.rps.toFixed(0)} | ${load.latency.p50.toFixed(2)} | ${load.latency.p99.toFixed(2)} | ${row.sluiceCpu.toFixed(2)} | ${row.envoyCpu.toFixed(1)} | ${load.ok} | ${load.errors} | ${row.loadBefore} → ${row.loadAfter} |`,
    );
  }
  lines.push("");
  for (const store of stores) {
    const rls = rows.find((r) => r.store === store && r.protocol === "rls");
    const rlqs = rows.find((r) => r.store === store && r.protocol === "rlqs");
    if (rls === undefined || rlqs === undefined) continue;
    const cpu =
      rlqs.sluiceCpu > 0 ? `${(rls.sluiceCpu / rlqs.sluiceCpu).toFixed(0)}× less` : "none measurable";
    lines.push(
      `- ${store}: RLQS/RLS RPS ${(rlqs.load.rps / rls.load.rps).toFixed(2)}×, p99 ${(rlqs.load.latency.p99 / rls.load.latency.p99).toFixed(2)}×; Sluice CPU per 1,000 requests ${rls.sluiceCpu.toFixed(2)} → ${rlqs.sluiceCpu.toFixed(2)} ms (${cpu})`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const machine = machineInfo();
  console.log(
    `# RLQS vs RLS through Envoy: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, load ${loadAverages()}`,
  );
  console.log(
    `command: \`node bench/rlqs-vs-rls.ts${smoke ? " --smoke" : ""}\`; ${concurrency} requests in flight for ${durationMs / 1000} s per row after ${WARMUP_MS / 1000} s of warm-up; one Envoy worker; Sluice --workers 1`,
  );
  const dir = await mkdtemp(join(tmpdir(), "sluice-bench-rlqs-"));
  const upstreamProcess = await startProcess({
    name: "upstream",
    command: process.execPath,
    args: [join(ROOT, "deploy/upstream/server.ts"), "--port", "0"],
    ready: { output: /upstream listening on http:\/\/[^:]+:(\d+)/ },
  });
  let redis: RedisServer | undefined;
  try {
    await writeFile(join(dir, "sluice.yaml"), POLICY);
    const upstream = at(Number(upstreamProcess.readyMatch?.[1]));
    const rows: Row[] = [];
    for (const store of stores) {
      redis = store === "redis" ? await startRedis() : undefined;
      for (const protocol of ["rls", "rlqs"] as const) {
        rows.push(await measure(store, protocol, upstream, redis, dir));
        // Let the machine settle between rows (sockets in TIME_WAIT, a child's exit).
        await sleep(smoke ? 100 : 1_000);
      }
      await redis?.stop();
      redis = undefined;
    }
    console.log(report(rows));
  } finally {
    await redis?.stop();
    await upstreamProcess.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
