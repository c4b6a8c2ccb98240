// `npm run bench`: ghz against the transport baseline, Sluice (memory, Redis, Redis Cluster) and the
// reference service envoyproxy/ratelimit on the same Redis, one scenario at a time, each server
// started fresh on loopback ports and stopped by its PID.
//
//   node bench/run-bench.ts [--scenario NAME ...] [--duration 10s] [--warmup-calls N] [--report FILE]
//                           [--fixed-rate] [--workers-compare] [--cache-compare] [--policy-compare]
//                           [--no-pin] [--smoke]
//                           [--rounds N] [--data-dir DIR [--write-data]]
//                           [--reference-window 0 --reference-window 150us ...] [--reference-cache-bytes N]
//                           [--server-cpus N ...]
//                           [--semi-space-compare [--semi-space MB ...] [--rate SCENARIO=RPS ...]]
//
// --data-dir keeps the generated call data (one JSON array per scenario) where the printed ghz
// commands can find it again; with --write-data it only writes the data and exits.
//
// On a machine with two or more cores the server runs on CPU 0 and ghz on CPU 1 (Redis unpinned), so
// client and server do not steal each other's core. --server-cpus N instead gives the server N cores
// (Sluice with --workers N; the reference's Go runtime follows its CPU set), Redis a core and ghz the
// rest (cpu-placement.ts), once per N given: the throughput curve where the cores exist.
// --semi-space-compare measures only Sluice on Redis, once per V8 --max-semi-space-size given
// (--semi-space, MB; 0 is V8's default; default 0, 8, 16, 32, 64), closed loop and, for a scenario given
// a --rate, at that fixed rate.
// --policy-compare measures, per scenario given (default hot-tenant and many-tenants), Sluice on Redis
// with its own policy and with the reference's copy of it (one window per node: what the reference
// can express), next to the reference's rows, rounds interleaved: the same descriptors and windows on
// both sides, so the Redis CPU per decision compares the scripts themselves.
// See bench/RESULTS.md for figures.
import { existsSync } from "node:fs";
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
import { type ReferenceRowSettings, referenceRows, scenarioRows } from "./bench-rows.ts";
import type { TargetOptions } from "./bench-targets.ts";
import { type GhzOptions, ROOT } from "./ghz-run.ts";
import { machineInfo } from "./machine-info.ts";
import { type BenchRow, type MeasureSettings, measure, measureRounds, median } from "./measure.ts";
import { referencePolicies } from "./reference-policies.ts";
import { REFERENCE_BIN, writeReferenceRuntime } from "./reference-target.ts";
import { commandList, type Measurement, machineLine, roundsList, scenarioTable } from "./report.ts";
import { fixedRateSection, scalingSection, semiSpaceSection } from "./run-sections.ts";
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
    "policy-compare": { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
    smoke: { type: "boolean", default: false },
    rounds: { type: "string", default: "1" },
    "data-dir": { type: "string" },
    "write-data": { type: "boolean", default: false },
    "reference-window": { type: "string", multiple: true },
    "reference-cache-bytes": { type: "string", default: String(64 * 2 ** 20) },
    "server-cpus": { type: "string", multiple: true },
    "semi-space-compare": { type: "boolean", default: false },
    "semi-space": { type: "string", multiple: true },
    rate: { type: "string", multiple: true },
  },
});

const smoke = values.smoke;
const rounds = smoke ? 1 : Math.max(1, Number(values.rounds));
const serverCpus = (values["server-cpus"] ?? []).map(Number);
const pinned = !values["no-pin"] && !smoke && availableParallelism() >= 2 && serverCpus.length === 0;
const referenceInstalled = existsSync(`${ROOT}${REFERENCE_BIN}`);
const scenarios: Scenario[] = smoke
  ? [{ ...findScenario("hot-tenant"), targets: ["baseline", "memory", "redis", "reference"] }]
  : (values.scenario ?? SCENARIOS.map((s) => s.name)).map(findScenario);

/** ghz's options; `cpus` and `pinTo` say where it runs (see the header). */
const loadOn =
  (pinTo: string | undefined, cpus: number) =>
  (dataFile: string, address: string): GhzOptions => ({
    address,
    dataFile,
    concurrency: smoke ? 10 : Number(values.concurrency),
    connections: smoke ? 1 : Number(values.connections),
    cpus,
    pinTo,
    ...(smoke ? { total: 300 } : { duration: values.duration }),
  });
const settingsFor = (pinTo: string | undefined, cpus: number): MeasureSettings => ({
  load: loadOn(pinTo, cpus),
  // JIT warm-up and connection set-up are not what the figures are about. Two passes over the
  // scenario's calls, and at least 20,000 calls: a fresh Node process is still growing its old
  // generation over its first ~20,000 calls, with longer pauses (a hot-tenant p99 of 20-24 ms after
  // 10,000 calls against 10-16 ms after 20,000; bench/RESULTS.md, run 12). Every tenant's counters,
  // hashed keys and inline caches exist before measuring, as in steady traffic where tenants come back.
  warmupCalls: async (dataFile) => {
    if (smoke) return 0;
    if (values["warmup-calls"] !== undefined) return Number(values["warmup-calls"]);
    const calls = JSON.parse(await readFile(dataFile, "utf8")) as unknown[];
    return Math.max(20_000, 2 * calls.length);
  },
});
const settings = settingsFor(pinned ? "1" : undefined, pinned ? 1 : availableParallelism());

const work = values["data-dir"] ?? (await mkdtemp(join(tmpdir(), "sluice-bench-")));
await mkdir(work, { recursive: true });
if (values["write-data"]) {
  if (values["data-dir"] === undefined) throw new Error("--write-data needs --data-dir");
  for (const scenario of SCENARIOS) {
    await writeFile(join(work, `${scenario.name}.json`), JSON.stringify(scenario.requests()));
  }
  process.exit(0);
}
const semiSpace = values["semi-space-compare"];
const rates = new Map((values.rate ?? []).map((r) => [r.split("=")[0], Number(r.split("=")[1])]));
const policyCompare = values["policy-compare"];
const onlyRows = (t: TargetName) =>
  semiSpace ? t === "redis" : policyCompare ? t === "redis" || t === "reference" : undefined;
const needs = (t: TargetName) =>
  (onlyRows(t) ?? scenarios.some((s) => s.targets.includes(t))) ||
  (t === "redis" && (values["workers-compare"] || values["cache-compare"]));
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
  const base: TargetOptions = { pinTo: pinned ? "0" : undefined, redis, cluster, workers: 1 };
  const policies = await referencePolicies([join(ROOT, "deploy/policies"), join(ROOT, "bench/policies")]);
  const reference: ReferenceRowSettings = {
    runtimeRoot:
      referenceInstalled && needs("reference")
        ? await writeReferenceRuntime(join(work, "reference"), policies)
        : undefined,
    windows: smoke ? ["0"] : (values["reference-window"] ?? ["0", "150us", "500us"]),
    cacheBytes: Number(values["reference-cache-bytes"]),
  };

  out(
    `# Sluice benchmark, ${new Date().toISOString()}\n\n${machineLine(machineInfo())}; ${placementLine()}\n`,
  );
  if (needs("reference")) out(referenceLine(policies.notes));

  if (policyCompare) {
    const runtimeRoot = reference.runtimeRoot;
    if (runtimeRoot === undefined) throw new Error("--policy-compare needs the reference (npm run setup)");
    const copy = join(runtimeRoot, "ratelimit", "config");
    const chosen =
      values.scenario === undefined ? ["hot-tenant", "many-tenants"] : scenarios.map((s) => s.name);
    for (const scenario of chosen.map(findScenario)) {
      const dataFile = await writeScenario(scenario);
      const redisOnly: TargetOptions = { ...base, cluster: undefined };
      const rows = [
        row("redis, Sluice's policy", redisOnly),
        row("redis, the reference's copy of the policy", { ...redisOnly, policyDirs: [copy] }),
        ...referenceRows(scenario, base, reference),
      ];
      const runs = await measureRounds(settings, scenario.name, rows, dataFile, rounds);
      const medians = rows.map((r) => median(runs.get(r.label) ?? []));
      out(
        `## policy: ${scenario.name} on Redis, Sluice's policy and the reference's copy\n\n${scenarioTable(medians)}\n\n${roundsList(runs)}${commandList(medians)}\n`,
      );
      measurements.push(...[...runs.values()].flat());
    }
  } else if (semiSpace) {
    for (const scenario of scenarios) {
      const section = await semiSpaceSection({
        scenario,
        dataFile: await writeScenario(scenario),
        base,
        sizes: (values["semi-space"] ?? ["0", "8", "16", "32", "64"]).map(Number),
        rps: rates.get(scenario.name),
        rounds,
        settings,
      });
      out(section.text);
      measurements.push(...section.measurements);
    }
  } else if (serverCpus.length > 0) {
    for (const scenario of scenarios) {
      const dataFile = await writeScenario(scenario);
      const section = await scalingSection({
        scenario,
        dataFile,
        base,
        reference,
        serverCpus,
        rounds,
        settingsFor,
      });
      out(section.text);
      measurements.push(...section.measurements);
    }
  } else {
    for (const scenario of scenarios) {
      const dataFile = await writeScenario(scenario);
      const rows = scenarioRows(scenario, base, reference);
      const runs = await measureRounds(settings, scenario.name, rows, dataFile, rounds);
      const medians = rows.map((r) => median(runs.get(r.label) ?? []));
      const again = `npm run bench -- --scenario ${scenario.name}${rounds > 1 ? ` --rounds ${rounds}` : ""}`;
      out(
        `## ${scenario.name}: ${scenario.description}\n\nReproduce: \`${again}\`\n\n${scenarioTable(medians)}\n\n${roundsList(runs)}${commandList(medians)}\n`,
      );
      measurements.push(...[...runs.values()].flat());
      if (values["fixed-rate"]) {
        const section = await fixedRateSection({ scenario, rows, medians, dataFile, rounds, settings });
        out(section.text);
        measurements.push(...section.measurements);
      }
    }
  }

  if (values["workers-compare"]) {
    const scenario = findScenario("many-tenants");
    const dataFile = await writeScenario(scenario);
    const redisOnly: TargetOptions = { ...base, cluster: undefined };
    const rows = [
      await measure(
        settings,
        scenario.name,
        row("redis --workers 1 (CPU 0)", { ...redisOnly, workers: 1 }),
        dataFile,
      ),
      await measure(
        settings,
        scenario.name,
        row("redis --workers 2 (unpinned)", { ...redisOnly, workers: 2, pinTo: undefined }),
        dataFile,
      ),
      // No --workers: Sluice starts one worker per CPU it may run on (os.availableParallelism() follows
      // the CPU affinity), here the one CPU the reference gets too.
      await measure(
        settings,
        scenario.name,
        row("redis, default workers (CPU 0)", { ...redisOnly, workers: undefined }),
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
    const dataFile = await writeScenario(scenario);
    const redisOnly: TargetOptions = { ...base, cluster: undefined };
    const runs = await measureRounds(
      settings,
      scenario.name,
      [
        row("redis, local cache on", redisOnly),
        row("redis, --local-cache-size 0", { ...redisOnly, localCacheSize: 0 }),
      ],
      dataFile,
      rounds,
    );
    const rows = [...runs.values()].map(median);
    const rps = (ms: readonly Measurement[]) => ms.map((m) => Math.round(m.result.rps)).join(", ");
    const [on = [], off = []] = [...runs.values()];
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

function row(label: string, options: TargetOptions): BenchRow {
  return { target: "redis", label, options };
}

async function writeScenario(scenario: Scenario): Promise<string> {
  const dataFile = join(work, `${scenario.name}.json`);
  await writeFile(dataFile, JSON.stringify(scenario.requests()));
  return dataFile;
}

function placementLine(): string {
  if (serverCpus.length > 0) return `--server-cpus ${serverCpus.join(", ")} (placement under each table)`;
  return pinned ? "server on CPU 0, ghz on CPU 1 (--cpus 1), Redis unpinned" : "unpinned";
}

function referenceLine(notes: readonly string[]): string {
  if (!referenceInstalled)
    return `The reference (${REFERENCE_BIN}) is not installed: no reference rows (npm run setup).\n`;
  const changes = notes.length === 0 ? "" : ` Its copy of the policies differs: ${notes.join("; ")}.`;
  return (
    `Reference rows: envoyproxy/ratelimit on the same Redis and load, one row per REDIS_PIPELINE_WINDOW ` +
    `(and in the flood also with LOCAL_CACHE_SIZE_IN_BYTES); "÷ best reference" compares with its fastest row.${changes}\n`
  );
}
