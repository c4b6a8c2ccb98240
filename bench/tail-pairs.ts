// The latency tail of Sluice and of the reference at one fixed call rate, side by side: interleaved
// runs, each server started fresh and warmed up, then held at `--rps` for `--duration`. Longer runs
// than the bench's fixed-rate rounds show whether a p99 is the server's steady tail or one pause that
// happened to fall inside a short round (bench/RESULTS.md, "The fixed-rate tail over 20 s").
//
//   node bench/tail-pairs.ts --scenario hot-tenant --rps 3448 [--duration 20s] [--pairs 3]
//                            [--reference-window 150us] [--reference-cache-bytes 0] [--warmup-calls 20000]
//                            [--redis-cpu 1]
//
// Sluice runs with `--workers 1` on Redis (a 3-node Cluster for the cluster scenario), the reference
// with the given REDIS_PIPELINE_WINDOW and LOCAL_CACHE_SIZE_IN_BYTES on the same store, each pinned to
// CPU 0 with ghz on CPU 1 as in run-bench.ts; the store is flushed before every run. Without the
// reference installed (npm run setup) only Sluice's rows are printed. Redis is left unpinned, as in
// run-bench.ts, unless `--redis-cpu` names a CPU for every Redis server: at a fixed rate ghz leaves
// room on its CPU, and Redis there keeps the server's core to the server, as a Redis on its own
// machine would.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { startRedis, startRedisCluster } from "../test/support/redis-server.ts";
import { flushRedis, startTarget, type TargetOptions } from "./bench-targets.ts";
import { type GhzOptions, pairedLoad, ROOT, runGhz } from "./ghz-run.ts";
import { loadAverages, machineInfo } from "./machine-info.ts";
import { referencePolicies } from "./reference-policies.ts";
import { REFERENCE_BIN, writeReferenceRuntime } from "./reference-target.ts";
import { machineLine } from "./report.ts";
import { findScenario, type TargetName } from "./scenarios.ts";

const { values } = parseArgs({
  options: {
    scenario: { type: "string", default: "hot-tenant" },
    rps: { type: "string" },
    duration: { type: "string", default: "20s" },
    pairs: { type: "string", default: "3" },
    "warmup-calls": { type: "string", default: "20000" },
    "reference-window": { type: "string", default: "150us" },
    "reference-cache-bytes": { type: "string", default: "0" },
    "redis-cpu": { type: "string" },
  },
});
const run = promisify(execFile);
const rps = Number(values.rps);
if (!(rps > 0)) throw new Error("--rps (calls per second, above 0) is required");
const scenario = findScenario(values.scenario);
const onCluster = scenario.name === "cluster";
const pinned = availableParallelism() >= 2;
const withReference = existsSync(`${ROOT}${REFERENCE_BIN}`);

const work = await mkdtemp(join(tmpdir(), "sluice-tail-pairs-"));
const redis = onCluster ? undefined : await startRedis();
const cluster = onCluster ? await startRedisCluster() : undefined;
const redisCpu = values["redis-cpu"];
if (redisCpu !== undefined) {
  for (const server of redis !== undefined ? [redis] : (cluster?.servers ?? [])) {
    await run("taskset", ["-p", "-c", redisCpu, String(server.pid)]);
  }
}
const out = (text: string) => process.stdout.write(`${text}\n`);
try {
  const dataFile = join(work, `${scenario.name}.json`);
  await writeFile(dataFile, JSON.stringify(scenario.requests()));
  const policies = await referencePolicies([join(ROOT, "deploy/policies"), join(ROOT, "bench/policies")]);
  const runtimeRoot = withReference ? await writeReferenceRuntime(join(work, "reference"), policies) : "";
  const settings = {
    pipelineWindow: values["reference-window"],
    localCacheBytes: Number(values["reference-cache-bytes"]),
  };
  const options: TargetOptions = {
    workers: 1,
    pinTo: pinned ? "0" : undefined,
    redis,
    cluster,
    reference: { settings, runtimeRoot },
  };
  const sluice: TargetName = onCluster ? "redis-cluster" : "redis";
  const targets: TargetName[] = withReference ? [sluice, "reference"] : [sluice];

  out(machineLine(machineInfo()));
  out(
    `${scenario.name} at ${rps} calls/s for ${values.duration} per run, ${values.pairs} interleaved rounds, ` +
      `reference window ${settings.pipelineWindow}, local cache ${settings.localCacheBytes} bytes, ` +
      `server ${pinned ? "on CPU 0, ghz on CPU 1" : "unpinned"}, ` +
      `Redis ${redisCpu === undefined ? "unpinned" : `on CPU ${redisCpu}`}`,
  );
  out("");
  out("| server | RPS | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | load before |");
  out("|---|---|---|---|---|---|---|---|");
  for (let round = 0; round < Number(values.pairs); round++) {
    for (const name of targets) {
      await flushRedis(options);
      const load = loadAverages();
      const server = await startTarget(name, options);
      try {
        const load$ = (extra: Partial<GhzOptions>) => pairedLoad(server.address, dataFile, pinned, extra);
        await runGhz(load$({ total: Number(values["warmup-calls"]) }));
        const r = await runGhz(load$({ duration: values.duration, rps }));
        const f = (n: number) => n.toFixed(2);
        out(
          `| ${name} | ${Math.round(r.rps)} | ${f(r.latency.p50)} | ${f(r.latency.p90)} | ${f(r.latency.p99)} | ` +
            `${f(r.latency.p999)} | ${r.errors} | ${load} |`,
        );
      } finally {
        await server.stop();
      }
    }
  }
} finally {
  await redis?.stop();
  await cluster?.stop();
  await rm(work, { recursive: true, force: true });
}
