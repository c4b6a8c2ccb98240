// Young-generation pauses of two Sluice checkouts, side by side: interleaved runs at a fixed call
// rate, each server started fresh under `node --trace-gc`, reporting the client's tail and what the
// scavenges cost (their count, total and longest pause, and what each left in the old generation).
// The bytes a scavenge leaves behind vary far less between runs than a p99 does, so they are the
// figure to compare when a change is meant to shorten the pauses.
//
//   node bench/gc-pairs.ts --tree before=/path/to/old/checkout --tree after=. [--scenario hot-tenant]
//                          [--store redis|memory] [--rps 4600] [--duration 10s] [--pairs 3]
//                          [--warmup-calls 20000] [--node-flags NAME=FLAG[,FLAG...]]
//
// `--node-flags` gives one tree's server extra node (V8) flags, e.g. `--tree base=. --tree minor=.
// --node-flags minor=--minor-ms` compares one checkout with and without a flag. Young-generation
// pauses are counted whichever collector makes them (Scavenge, or Minor Mark-Sweep with --minor-ms).
//
// Each tree runs its own bin/sluice.js (`--workers 1`, pinned to CPU 0 as in run-bench.ts, ghz on
// CPU 1) against one Redis started here and flushed before every run. `--rps 0` is the closed loop.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { OUTPUT_LIMIT } from "../test/support/process.ts";
import { type RedisServer, startRedis } from "../test/support/redis-server.ts";
import { flushRedis, startTarget } from "./bench-targets.ts";
import { type GhzOptions, pairedLoad, runGhz } from "./ghz-run.ts";
import { loadAverages, machineInfo } from "./machine-info.ts";
import { machineLine } from "./report.ts";
import { findScenario } from "./scenarios.ts";
import { type GcSummary, summariseTraceGc } from "./trace-gc.ts";

const { values } = parseArgs({
  options: {
    tree: { type: "string", multiple: true },
    scenario: { type: "string", default: "hot-tenant" },
    store: { type: "string", default: "redis" },
    rps: { type: "string", default: "4600" },
    duration: { type: "string", default: "10s" },
    pairs: { type: "string", default: "3" },
    "warmup-calls": { type: "string", default: "20000" },
    "node-flags": { type: "string", multiple: true },
  },
});
if (values.store !== "redis" && values.store !== "memory") throw new Error("--store is redis or memory");
const trees = (values.tree ?? ["this=."]).map((spec) => {
  const at = spec.indexOf("=");
  if (at <= 0) throw new Error(`--tree takes NAME=DIR, not "${spec}"`);
  return { name: spec.slice(0, at), dir: resolve(spec.slice(at + 1)) };
});
const nodeFlags = new Map(
  (values["node-flags"] ?? []).map((spec) => {
    const at = spec.indexOf("=");
    if (at <= 0) throw new Error(`--node-flags takes NAME=FLAG[,FLAG...], not "${spec}"`);
    return [spec.slice(0, at), spec.slice(at + 1).split(",")] as const;
  }),
);
for (const name of nodeFlags.keys()) {
  if (!trees.some((tree) => tree.name === name)) throw new Error(`--node-flags names no --tree: ${name}`);
}
const rps = Number(values.rps);
const pinned = availableParallelism() >= 2;
const scenario = findScenario(values.scenario);

interface Run {
  readonly tree: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly gc: GcSummary;
  /** Bytes left in the old generation per call: promoted per scavenge × scavenges ÷ calls. */
  readonly promotedPerCallKb: number;
  readonly load: string;
}

async function measureTree(tree: { name: string; dir: string }, dataFile: string, redis?: RedisServer) {
  if (redis !== undefined) await flushRedis({ redis });
  const load = loadAverages();
  const server = await startTarget(redis === undefined ? "memory" : "redis", {
    root: tree.dir,
    nodeFlags: ["--trace-gc", ...(nodeFlags.get(tree.name) ?? [])],
    workers: 1,
    pinTo: pinned ? "0" : undefined,
    redis,
  });
  try {
    const load$ = (extra: Partial<GhzOptions>) => pairedLoad(server.address, dataFile, pinned, extra);
    await runGhz(load$({ total: Number(values["warmup-calls"]) }));
    const from = server.output().length;
    const result = await runGhz(load$({ duration: values.duration, ...(rps > 0 ? { rps } : {}) }));
    const output = server.output();
    if (output.length >= OUTPUT_LIMIT) throw new Error(`${tree.name}: too much output to read its GC lines`);
    const gc = summariseTraceGc(output.slice(from));
    return {
      tree: tree.name,
      rps: result.rps,
      ...result.latency,
      gc,
      promotedPerCallKb: (gc.promotedPerScavengeMb * 1e3 * gc.scavenges) / result.count,
      load,
    } satisfies Run;
  } finally {
    await server.stop();
  }
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const line = (r: Run) =>
  `| ${r.tree} | ${Math.round(r.rps)} | ${f1(r.p50)} | ${f1(r.p99)} | ${f1(r.p999)} | ${r.gc.scavenges} | ` +
  `${Math.round(r.gc.scavengeMs)} | ${f1(r.gc.longestScavengeMs)} | ${f1(r.gc.promotedPerScavengeMb)} | ` +
  `${f1(r.promotedPerCallKb)} | ${r.gc.markCompacts}, ${Math.round(r.gc.markCompactMs)} | ${r.load} |`;

const work = await mkdtemp(join(tmpdir(), "sluice-gc-pairs-"));
const redis = values.store === "redis" ? await startRedis() : undefined;
const out = (text: string) => process.stdout.write(`${text}\n`);
try {
  const dataFile = join(work, `${scenario.name}.json`);
  await writeFile(dataFile, JSON.stringify(scenario.requests()));
  out(`${machineLine(machineInfo())}`);
  out(
    `${scenario.name} on ${values.store}, ${rps > 0 ? `${rps} calls/s` : "closed loop"}, ${values.duration} per run, ` +
      `${values.pairs} interleaved rounds, server ${pinned ? "on CPU 0, ghz on CPU 1" : "unpinned"}`,
  );
  out("");
  out(
    "| tree | RPS | p50 ms | p99 ms | p99.9 ms | scavenges | scavenge ms | longest ms | MB left per scavenge | KB left per call | mark-compacts, ms | load before |",
  );
  out("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (let round = 0; round < Number(values.pairs); round++) {
    for (const tree of trees) out(line(await measureTree(tree, dataFile, redis)));
  }
} finally {
  await redis?.stop();
  await rm(work, { recursive: true, force: true });
}
