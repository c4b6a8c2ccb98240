// `npm run bench`: ghz against the transport baseline and Sluice (memory, Redis, Redis Cluster),
// one scenario at a time, each server started fresh on loopback ports and stopped by its PID.
//
//   node bench/run-bench.ts [--scenario NAME ...] [--duration 10s] [--warmup-calls N] [--report FILE]
//                           [--fixed-rate] [--workers-compare] [--cache-compare] [--no-pin] [--smoke]
//                           [--rounds N] [--data-dir DIR [--write-data]]
//
// --data-dir keeps the generated call data (one JSON array per scenario) where the printed ghz
// commands can find it again; with --write-data it only writes the data and exits.
//
// On a machine with two or more cores the server runs on CPU 0 and ghz on CPU 1 (Redis unpinned), so
// client and server do not steal each other's core. See bench/RESULTS.md for figures.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type RedisClusterServers,
  type RedisServer,
  startRedis,
  startRedisCluster,
} from "../test/support/redis-server.ts";
import {
  flushRedis,
  type RunningTarget,
  scrapeCounter,
  startTarget,
  type TargetOptions,
} from "./bench-targets.ts";
import { type GhzOptions, runGhz } from "./ghz-run.ts";
import { loadAverages, machineInfo } from "./machine-info.ts";
import { processTreeCpuMs } from "./process-cpu.ts";
import { commandList, type Measurement, machineLine, scenarioTable } from "./report.ts";
import { findScenario, SCENARIOS, type Scenario, type TargetName } from "./scenarios.ts";

const { values } = parseArgs({
  options: {
    scenario: { type: "string", multiple: true },
    duration: { type: "string", default: "10s" },
    "warmup-calls": { type: "string" },
    concurrency: { type: "string", default: "50" },
    connections: { type: "string", default: "4" },
    report: { type: "string" },
    "fixed-rate": { type: "boolean", default: false },
    "workers-compare": { type: "boolean", default: false },
    "cache-compare": { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
    smoke: { type: "boolean", default: false },
    rounds: { type: "string", default: "1" },
    "data-dir": { type: "string" },
    "write-data": { type: "boolean", default: false },
  },
});

const smoke = values.smoke;
const rounds = smoke ? 1 : Math.max(1, Number(values.rounds));
const pinned = !values["no-pin"] && !smoke && availableParallelism() >= 2;
const serverCpu = pinned ? "0" : undefined;
const clientCpu = pinned ? "1" : undefined;
const scenarios: Scenario[] = smoke
  ? [{ ...findScenario("hot-tenant"), targets: ["baseline", "memory"] }]
  : (values.scenario ?? SCENARIOS.map((s) => s.name)).map(findScenario);

const load = (dataFile: string, address: string): GhzOptions => ({
  address,
  dataFile,
  concurrency: smoke ? 10 : Number(values.concurrency),
  connections: smoke ? 1 : Number(values.connections),
  cpus: pinned ? 1 : availableParallelism(),
  pinTo: clientCpu,
  ...(smoke ? { total: 300 } : { duration: values.duration }),
});

const work = values["data-dir"] ?? (await mkdtemp(join(tmpdir(), "sluice-bench-")));
await mkdir(work, { recursive: true });
if (values["write-data"]) {
  if (values["data-dir"] === undefined) throw new Error("--write-data needs --data-dir");
  for (const scenario of SCENARIOS) {
    await writeFile(join(work, `${scenario.name}.json`), JSON.stringify(scenario.requests()));
  }
  process.exit(0);
}
const needs = (t: TargetName) =>
  scenarios.some((s) => s.targets.includes(t)) ||
  (t === "redis" && (values["fixed-rate"] || values["workers-compare"] || values["cache-compare"]));
let redis: RedisServer | undefined;
let cluster: RedisClusterServers | undefined;
const measurements: Measurement[] = [];
const out = (text: string) => process.stdout.write(`${text}\n`);

try {
  if (needs("redis")) redis = await startRedis();
  if (needs("redis-cluster")) cluster = await startRedisCluster();
  // Redis stays unpinned: on CPU 1 it would queue behind a saturated ghz, and the scheduler can run
  // it on CPU 0 while the server waits for its answer.
  // One worker unless a row says otherwise: Sluice's default with Redis is a worker per core, which
  // pinned to one CPU would be several processes sharing it.
  const base: TargetOptions = { pinTo: serverCpu, redis, cluster, workers: 1 };

  out(
    `# Sluice benchmark, ${new Date().toISOString()}\n\n${machineLine(machineInfo())}; ${pinned ? "server on CPU 0, ghz on CPU 1 (--cpus 1), Redis unpinned" : "unpinned"}\n`,
  );
  for (const scenario of scenarios) {
    const dataFile = join(work, `${scenario.name}.json`);
    await writeFile(dataFile, JSON.stringify(scenario.requests()));
    // Rounds interleave the servers, so a burst of other load on the machine hits all of them alike;
    // each server's median round (by RPS) is reported, with the spread of the rounds.
    const runs = new Map<TargetName, Measurement[]>(scenario.targets.map((t) => [t, []]));
    for (let round = 0; round < rounds; round++) {
      for (const target of scenario.targets) {
        runs.get(target)?.push(await measure(scenario.name, target, target, base, dataFile));
      }
    }
    const rows = scenario.targets.map((t) => median(runs.get(t) ?? []));
    const again = `npm run bench -- --scenario ${scenario.name}${rounds > 1 ? ` --rounds ${rounds}` : ""}`;
    out(
      `## ${scenario.name}: ${scenario.description}\n\nReproduce: \`${again}\`\n\n${scenarioTable(rows)}\n\n${spread(runs)}${commandList(rows)}\n`,
    );
    measurements.push(...[...runs.values()].flat());
  }

  if (values["fixed-rate"]) {
    const scenario = findScenario("many-tenants");
    const dataFile = join(work, "fixed-rate.json");
    await writeFile(dataFile, JSON.stringify(scenario.requests()));
    const earlier = measured(scenario.name, "redis");
    const max =
      earlier.length > 0
        ? median(earlier).result.rps
        : (await measure(scenario.name, "redis", "redis", base, dataFile)).result.rps;
    const rps = Math.round(max / 2);
    // The baseline at the same rate: the latency floor of the transport and of this machine.
    const rows = [
      await measure(scenario.name, "baseline", `baseline at ${rps}/s`, base, dataFile, rps),
      await measure(scenario.name, "redis", `redis at ${rps}/s`, base, dataFile, rps),
    ];
    out(
      `## fixed rate: many-tenants on Redis at half of ${Math.round(max)}/s\n\n${scenarioTable(rows)}\n\n${commandList(rows)}\n`,
    );
  }

  if (values["workers-compare"]) {
    const scenario = findScenario("many-tenants");
    const dataFile = join(work, "workers.json");
    await writeFile(dataFile, JSON.stringify(scenario.requests()));
    const rows = [
      await measure(scenario.name, "redis", "redis --workers 1 (CPU 0)", { ...base, workers: 1 }, dataFile),
      await measure(
        scenario.name,
        "redis",
        "redis --workers 2 (unpinned)",
        { ...base, workers: 2, pinTo: undefined },
        dataFile,
      ),
    ];
    out(
      `## workers: many-tenants on Redis, ghz on CPU 1\n\n${scenarioTable(rows)}\n\n${commandList(rows)}\n`,
    );
  }

  if (values["cache-compare"]) {
    // The over-limit flood with the local cache on (the default: refusals answered locally, their hits
    // written to Redis every 100 ms) and off (every call a script call), rounds interleaved.
    const scenario = findScenario("flood");
    const dataFile = join(work, "cache.json");
    await writeFile(dataFile, JSON.stringify(scenario.requests()));
    const on: Measurement[] = [];
    const off: Measurement[] = [];
    for (let round = 0; round < rounds; round++) {
      on.push(await measure(scenario.name, "redis", "redis, local cache on", base, dataFile));
      off.push(
        await measure(
          scenario.name,
          "redis",
          "redis, --local-cache-size 0",
          { ...base, localCacheSize: 0 },
          dataFile,
        ),
      );
    }
    const rows = [median(on), median(off)];
    const rps = (ms: Measurement[]) => ms.map((m) => Math.round(m.result.rps)).join(", ");
    out(
      `## local cache: flood on Redis, cache on and off\n\n${scenarioTable(rows)}\n\nRounds (RPS): on ${rps(on)}; off ${rps(off)}\n\n${commandList(rows)}\n`,
    );
    measurements.push(...on, ...off);
  }

  if (values.report !== undefined) await writeFile(values.report, JSON.stringify(measurements, null, 2));
} finally {
  await redis?.stop();
  await cluster?.stop();
  if (values["data-dir"] === undefined) await rm(work, { recursive: true, force: true });
}

async function measure(
  scenario: string,
  target: TargetName,
  label: string,
  options: TargetOptions,
  dataFile: string,
  rps?: number,
): Promise<Measurement> {
  await flushRedis(options);
  const server: RunningTarget = await startTarget(target, options);
  try {
    const ghz = load(dataFile, server.address);
    // JIT warm-up and connection set-up are not what the figures are about.
    // Two passes over the scenario's calls (at least 10,000): every tenant's counters, hashed keys and
    // inline caches exist before measuring, as in steady traffic where tenants come back.
    if (!smoke) await runGhz({ ...ghz, duration: undefined, total: await warmupCalls(dataFile) });
    const before = await decisions(server);
    const loadBefore = loadAverages();
    const cpuBefore = await processTreeCpuMs(server.pid);
    const result = await runGhz(rps === undefined ? ghz : { ...ghz, rps });
    const cpuAfter = await processTreeCpuMs(server.pid);
    const loadAfter = loadAverages();
    const after = await decisions(server);
    const answered = after.ok + after.overLimit - before.ok - before.overLimit;
    return {
      scenario,
      label,
      result,
      overLimit:
        server.adminUrl === undefined || answered === 0
          ? undefined
          : (after.overLimit - before.overLimit) / answered,
      cacheHits: server.adminUrl === undefined ? undefined : after.cacheHits - before.cacheHits,
      serverP99Ms: serverP99Ms(before, after),
      cpuUsPerCall:
        cpuBefore === undefined || cpuAfter === undefined
          ? undefined
          : ((cpuAfter - cpuBefore) * 1000) / result.count,
      loadBefore,
      loadAfter,
      serverCommand: server.command,
    };
  } finally {
    await server.stop();
  }
}

interface ServerCounts {
  readonly ok: number;
  readonly overLimit: number;
  readonly cacheHits: number;
  /** Cumulative calls per latency bucket bound (seconds) of sluice_should_rate_limit_duration_seconds. */
  readonly latencyBuckets: Map<number, number>;
}

async function decisions(server: RunningTarget): Promise<ServerCounts> {
  if (server.adminUrl === undefined) return { ok: 0, overLimit: 0, cacheHits: 0, latencyBuckets: new Map() };
  const byCode = await scrapeCounter(server.adminUrl, "sluice_requests_total");
  const hits = await scrapeCounter(server.adminUrl, "sluice_local_cache_hits_total");
  const buckets = await scrapeCounter(server.adminUrl, "sluice_should_rate_limit_duration_seconds_bucket");
  let ok = 0;
  let overLimit = 0;
  for (const [labels, count] of byCode) {
    if (labels.includes('code="OVER_LIMIT"')) overLimit += count;
    else if (labels.includes('code="OK"')) ok += count;
  }
  const latencyBuckets = new Map<number, number>();
  for (const [labels, count] of buckets) {
    const le = /le="([^"]+)"/.exec(labels)?.[1];
    if (le === undefined) continue;
    const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
    latencyBuckets.set(bound, (latencyBuckets.get(bound) ?? 0) + count);
  }
  return { ok, overLimit, cacheHits: [...hits.values()].reduce((a, b) => a + b, 0), latencyBuckets };
}

/**
 * Sluice's own p99 (receipt to answer, as its histogram measured it during the run): the smallest
 * bucket bound holding 99 % of the run's calls, in ms. Transport and scheduling outside the
 * handler are not in it; that is the latency Sluice adds.
 */
function serverP99Ms(before: ServerCounts, after: ServerCounts): number | undefined {
  const bounds = [...after.latencyBuckets.keys()].sort((a, b) => a - b);
  const total =
    (after.latencyBuckets.get(Number.POSITIVE_INFINITY) ?? 0) -
    (before.latencyBuckets.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return undefined;
  for (const le of bounds) {
    const within = (after.latencyBuckets.get(le) ?? 0) - (before.latencyBuckets.get(le) ?? 0);
    if (within >= 0.99 * total) return le * 1000;
  }
  return undefined;
}

/** The round with the median RPS (the lower middle one for an even count). */
function median(runs: readonly Measurement[]): Measurement {
  const sorted = [...runs].sort((a, b) => a.result.rps - b.result.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)] as Measurement;
}

/** One line per server with every round's RPS, when there was more than one round. */
function spread(runs: ReadonlyMap<TargetName, readonly Measurement[]>): string {
  if (rounds === 1) return "";
  const lines = [...runs].map(
    ([target, ms]) => `- ${target}: ${ms.map((m) => Math.round(m.result.rps)).join(", ")} RPS`,
  );
  return `Rounds (RPS of each, in order; the table shows the median):\n${lines.join("\n")}\n\n`;
}

function measured(scenario: string, label: string): Measurement[] {
  return measurements.filter((m) => m.scenario === scenario && m.label === label);
}

async function warmupCalls(dataFile: string): Promise<number> {
  if (values["warmup-calls"] !== undefined) return Number(values["warmup-calls"]);
  const calls = JSON.parse(await readFile(dataFile, "utf8")) as unknown[];
  return Math.max(10_000, 2 * calls.length);
}
