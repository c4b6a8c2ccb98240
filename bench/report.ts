import type { GhzResult } from "./ghz-run.ts";
import type { MachineInfo } from "./machine-info.ts";
import type { TargetName } from "./scenarios.ts";

/** One measured ghz run against one server, with what Sluice's /metrics said about it. */
export interface Measurement {
  readonly scenario: string;
  readonly target: TargetName;
  /** `memory`, `redis`, `redis --workers 2`, `reference, window 150us`, ... */
  readonly label: string;
  readonly result: GhzResult;
  /** Fraction of answers that were OVER_LIMIT, from sluice_requests_total; undefined for the baseline. */
  readonly overLimit?: number | undefined;
  /** Calls answered from the local over-limit cache during the run. */
  readonly cacheHits?: number | undefined;
  /** Sluice's own p99 from its latency histogram (a bucket bound), in ms; undefined for the baseline. */
  readonly serverP99Ms?: number | undefined;
  /** Server CPU time (all its processes) per call during the run, in microseconds. */
  readonly cpuUsPerCall?: number | undefined;
  /** Redis CPU (INFO cpu, user+system, every node) per call during the run, in microseconds. */
  readonly redisCpuUsPerCall?: number | undefined;
  /** Top-level script calls (EVALSHA + EVAL, INFO commandstats) per call during the run. */
  readonly scriptCallsPerCall?: number | undefined;
  /** `uptime` load averages just before and just after the run. */
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly serverCommand: string;
}

const ms = (value: number) => (Number.isNaN(value) ? "–" : value.toFixed(2));

/**
 * A markdown table of one scenario's runs. Each row's RPS is also shown as a fraction of the
 * baseline's, of the sized baseline's (the transport's ceiling for replies the size of Sluice's)
 * and of the best reference row's (envoyproxy/ratelimit in its fastest configuration measured, by
 * RPS), and its client p99 as a multiple of that reference row's p99.
 */
export function scenarioTable(rows: readonly Measurement[]): string {
  const rpsOf = (target: TargetName) => rows.find((r) => r.target === target)?.result.rps;
  const baseline = rpsOf("baseline");
  const sized = rpsOf("baseline-sized");
  const reference = bestReference(rows);
  const percentOf = (rps: number, of: number | undefined) =>
    of === undefined ? "–" : `${Math.round((rps / of) * 100)} %`;
  const times = (value: number, of: number | undefined) =>
    of === undefined || Number.isNaN(value) || Number.isNaN(of) || of === 0
      ? "–"
      : `${(value / of).toFixed(2)}×`;
  const micro = (value: number | undefined) => (value === undefined ? "–" : String(Math.round(value)));
  const lines = [
    "| server | RPS | vs baseline | vs sized | RPS ÷ best reference | p99 ÷ best reference | server CPU µs/call | Redis CPU µs/call | scripts/call | p50 ms | p90 ms | p99 ms | p99.9 ms | Sluice p99 ≤ ms | calls | errors | over limit | cache hits | load before → after |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    const { result } = row;
    const ratio = `${percentOf(result.rps, baseline)} | ${percentOf(result.rps, sized)}`;
    const vsReference = `${times(result.rps, reference?.result.rps)} | ${times(result.latency.p99, reference?.result.latency.p99)}`;
    const scripts = row.scriptCallsPerCall === undefined ? "–" : row.scriptCallsPerCall.toFixed(2);
    const overLimit = row.overLimit === undefined ? "–" : `${(row.overLimit * 100).toFixed(1)} %`;
    lines.push(
      `| ${row.label} | ${Math.round(result.rps)} | ${ratio} | ${vsReference} | ${micro(row.cpuUsPerCall)} | ${micro(row.redisCpuUsPerCall)} | ${scripts} | ` +
        `${ms(result.latency.p50)} | ${ms(result.latency.p90)} | ${ms(result.latency.p99)} | ${ms(result.latency.p999)} | ` +
        `${serverP99(row.serverP99Ms)} | ${result.count} | ${result.errors} | ${overLimit} | ` +
        `${row.cacheHits ?? "–"} | ${row.loadBefore} → ${row.loadAfter} |`,
    );
  }
  return lines.join("\n");
}

/** The reference row with the highest RPS: its best configuration in this table. */
export function bestReference(rows: readonly Measurement[]): Measurement | undefined {
  return rows
    .filter((r) => r.target === "reference")
    .reduce<Measurement | undefined>(
      (best, r) => (best === undefined || r.result.rps > best.result.rps ? r : best),
      undefined,
    );
}

/** One line per row with every round's RPS, when there was more than one round. */
export function roundsList(runs: ReadonlyMap<string, readonly Measurement[]>): string {
  if ([...runs.values()].every((ms) => ms.length <= 1)) return "";
  const lines = [...runs].map(
    ([label, ms]) => `- ${label}: ${ms.map((m) => Math.round(m.result.rps)).join(", ")} RPS`,
  );
  return `Rounds (RPS of each, in order; the table shows the median):\n${lines.join("\n")}\n\n`;
}

/** One line per row with every round's client p99: the figure a fixed-rate table picks its median round by. */
export function p99List(runs: ReadonlyMap<string, readonly Measurement[]>): string {
  const lines = [...runs].map(
    ([label, ms]) => `- ${label}: ${ms.map((m) => m.result.latency.p99.toFixed(2)).join(", ")} ms`,
  );
  return `Client p99 of each round (the table shows the median one):\n${lines.join("\n")}\n\n`;
}

/** How to reproduce every row: the server's command line and ghz's. */
export function commandList(rows: readonly Measurement[]): string {
  return rows
    .map(
      (row) => `- ${row.label}:\n  - server: \`${row.serverCommand}\`\n  - load: \`${row.result.command}\``,
    )
    .join("\n");
}

export function machineLine(machine: MachineInfo): string {
  return `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}`;
}

/** Past the histogram's last bound (100 ms) only "more" is known. */
function serverP99(bound: number | undefined): string {
  if (bound === undefined) return "–";
  return Number.isFinite(bound) ? String(bound) : "> 100";
}
