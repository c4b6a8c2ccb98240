import { execFile } from "node:child_process";
import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { type ReferenceRowSettings, referenceRows, storeOptions } from "./bench-rows.ts";
import type { TargetOptions } from "./bench-targets.ts";
import { cpuPlacement } from "./cpu-placement.ts";
import { type BenchRow, type MeasureSettings, measureRounds, median } from "./measure.ts";
import {
  bestReference,
  commandList,
  type Measurement,
  p99List,
  roundsList,
  scenarioTable,
} from "./report.ts";
import type { Scenario } from "./scenarios.ts";

const run = promisify(execFile);

/** A section of the report and the runs behind it. */
export interface Section {
  readonly text: string;
  readonly measurements: readonly Measurement[];
}

/**
 * Client latency at a fixed rate: half of the reference's maximum in this scenario (its best row's
 * median RPS), for the baseline (the transport's floor), Sluice on Redis and that reference row,
 * rounds interleaved; each row's median round by client p99.
 */
export async function fixedRateSection(input: {
  readonly scenario: Scenario;
  readonly rows: readonly BenchRow[];
  readonly medians: readonly Measurement[];
  readonly dataFile: string;
  readonly rounds: number;
  readonly settings: MeasureSettings;
}): Promise<Section> {
  const { scenario, rows, medians } = input;
  const reference = bestReference(medians);
  if (reference === undefined) {
    return {
      text: `## fixed rate: ${scenario.name}\n\nNo reference row measured: skipped.\n`,
      measurements: [],
    };
  }
  const rps = Math.max(1, Math.round(reference.result.rps / 2));
  const chosen = rows
    .filter(
      (r) =>
        r.target === "baseline" ||
        r.target === "redis" ||
        r.target === "redis-cluster" ||
        r.label === reference.label,
    )
    .map((r) => ({ ...r, label: `${r.label} at ${rps}/s` }));
  const runs = await measureRounds(input.settings, scenario.name, chosen, input.dataFile, input.rounds, rps);
  const byP99 = [...runs.values()].map((ms) => medianBy(ms, (m) => m.result.latency.p99));
  const text =
    `## fixed rate: ${scenario.name} at half the reference's maximum (${rps}/s of ${Math.round(reference.result.rps)}/s, ${reference.label})\n\n` +
    `${scenarioTable(byP99)}\n\n${p99List(runs)}${roundsList(runs)}${commandList(byP99)}\n`;
  return { text, measurements: [...runs.values()].flat() };
}

/**
 * The scenario's Redis rows (Sluice with --workers N, every reference row) with the server on N
 * cores, for each N given, Redis and ghz on cores of their own (cpu-placement.ts); then the curve.
 */
export async function scalingSection(input: {
  readonly scenario: Scenario;
  readonly dataFile: string;
  readonly base: TargetOptions;
  readonly reference: ReferenceRowSettings;
  readonly serverCpus: readonly number[];
  readonly rounds: number;
  readonly settingsFor: (pinTo: string | undefined, cpus: number) => MeasureSettings;
}): Promise<Section> {
  const { scenario, base } = input;
  const largest = Math.max(...input.serverCpus);
  const store = scenario.targets.includes("redis-cluster") ? "redis-cluster" : "redis";
  const parts: string[] = [`## scaling: ${scenario.name}: ${scenario.description}\n`];
  const curve: string[] = [];
  const measurements: Measurement[] = [];
  for (const n of input.serverCpus) {
    const placement = cpuPlacement(n, largest, availableParallelism());
    await pinRedis(base, placement.redis);
    const onN: TargetOptions = { ...base, pinTo: placement.server };
    const cpus = `${n} CPU${n === 1 ? "" : "s"}`;
    const rows: BenchRow[] = [
      {
        target: store,
        label: `${store} --workers ${n} on ${cpus}`,
        options: { ...storeOptions(store, onN), workers: n },
      },
      ...referenceRows(scenario, onN, input.reference).map((r) => ({ ...r, label: `${r.label} on ${cpus}` })),
    ];
    const settings = input.settingsFor(placement.ghz, placement.ghzCpus);
    const runs = await measureRounds(settings, scenario.name, rows, input.dataFile, input.rounds);
    const medians = rows.map((r) => median(runs.get(r.label) ?? []));
    parts.push(
      `### server on ${cpus}\n\n${placement.note}\n\n${scenarioTable(medians)}\n\n${roundsList(runs)}${commandList(medians)}\n`,
    );
    const sluice = medians[0]?.result.rps ?? 0;
    const best = bestReference(medians);
    const ratio =
      best === undefined
        ? ""
        : `, reference ${Math.round(best.result.rps)} (${best.label}), ${(sluice / best.result.rps).toFixed(2)}×`;
    curve.push(`- ${cpus}: Sluice ${Math.round(sluice)} RPS${ratio}`);
    measurements.push(...[...runs.values()].flat());
  }
  parts.push(`Curve (median rounds):\n${curve.join("\n")}\n`);
  return { text: parts.join("\n"), measurements };
}

/** Moves every thread of the bench's Redis servers onto `cpus` (they were started unpinned). */
async function pinRedis(base: TargetOptions, cpus: string): Promise<void> {
  const pids = [
    ...(base.redis === undefined ? [] : [base.redis.pid]),
    ...(base.cluster?.servers.map((s) => s.pid) ?? []),
  ];
  for (const pid of pids) await run("taskset", ["-a", "-pc", cpus, String(pid)]);
}

function medianBy(runs: readonly Measurement[], key: (m: Measurement) => number): Measurement {
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)] as Measurement;
}

/**
 * Sluice on Redis under each young-generation size (V8's `--max-semi-space-size`, MB; 0 is V8's
 * default), rounds interleaved: closed loop, then at `rps` calls/s when given (each row's median
 * round by client p99 there, by RPS in the closed loop).
 */
export async function semiSpaceSection(input: {
  readonly scenario: Scenario;
  readonly dataFile: string;
  readonly base: TargetOptions;
  readonly sizes: readonly number[];
  readonly rps: number | undefined;
  readonly rounds: number;
  readonly settings: MeasureSettings;
}): Promise<Section> {
  const { scenario } = input;
  const rows: BenchRow[] = input.sizes.map((mb) => ({
    target: "redis",
    label: mb === 0 ? "redis, V8's default semi-space" : `redis, --max-semi-space-size=${mb}`,
    options: {
      ...input.base,
      cluster: undefined,
      nodeFlags: mb === 0 ? [] : [`--max-semi-space-size=${mb}`],
    },
  }));
  const closed = await measureRounds(input.settings, scenario.name, rows, input.dataFile, input.rounds);
  const medians = [...closed.values()].map(median);
  let text = `## semi-space: ${scenario.name}, closed loop\n\n${scenarioTable(medians)}\n\n${roundsList(closed)}${commandList(medians)}\n`;
  const measurements = [...closed.values()].flat();
  if (input.rps !== undefined) {
    const atRate = rows.map((r) => ({ ...r, label: `${r.label} at ${input.rps}/s` }));
    const runs = await measureRounds(
      input.settings,
      scenario.name,
      atRate,
      input.dataFile,
      input.rounds,
      input.rps,
    );
    const byP99 = [...runs.values()].map((ms) => medianBy(ms, (m) => m.result.latency.p99));
    text +=
      `\n## semi-space: ${scenario.name} at ${input.rps}/s\n\n${scenarioTable(byP99)}\n\n` +
      `${p99List(runs)}${roundsList(runs)}${commandList(byP99)}\n`;
    measurements.push(...[...runs.values()].flat());
  }
  return { text, measurements };
}
