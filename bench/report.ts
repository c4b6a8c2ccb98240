import type { GhzResult } from "./ghz-run.ts";
import type { MachineInfo } from "./machine-info.ts";

/** One measured ghz run against one server, with what Sluice's /metrics said about it. */
export interface Measurement {
  readonly scenario: string;
  /** `memory`, `redis`, `redis --workers 2`, ... */
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
  /** `uptime` load averages just before and just after the run. */
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly serverCommand: string;
}

const ms = (value: number) => (Number.isNaN(value) ? "–" : value.toFixed(2));

/**
 * A markdown table of one scenario's runs, each row's RPS also shown as a fraction of the baseline's
 * and, where the scenario has one, of the sized baseline's (the transport's ceiling for replies the
 * size of Sluice's).
 */
export function scenarioTable(rows: readonly Measurement[]): string {
  const rpsOf = (label: string) => rows.find((r) => r.label === label)?.result.rps;
  const baseline = rpsOf("baseline");
  const sized = rpsOf("baseline-sized");
  const percentOf = (rps: number, of: number | undefined) =>
    of === undefined ? "–" : `${Math.round((rps / of) * 100)} %`;
  const lines = [
    "| server | RPS | vs baseline | vs sized | server CPU µs/call | p50 ms | p90 ms | p99 ms | p99.9 ms | Sluice p99 ≤ ms | calls | errors | over limit | cache hits | load before → after |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    const { result } = row;
    const ratio = `${percentOf(result.rps, baseline)} | ${percentOf(result.rps, sized)}`;
    const overLimit = row.overLimit === undefined ? "–" : `${(row.overLimit * 100).toFixed(1)} %`;
    lines.push(
      `| ${row.label} | ${Math.round(result.rps)} | ${ratio} | ${row.cpuUsPerCall === undefined ? "–" : Math.round(row.cpuUsPerCall)} | ${ms(result.latency.p50)} | ${ms(result.latency.p90)} | ` +
        `${ms(result.latency.p99)} | ${ms(result.latency.p999)} | ${serverP99(row.serverP99Ms)} | ${result.count} | ${result.errors} | ${overLimit} | ` +
        `${row.cacheHits ?? "–"} | ${row.loadBefore} → ${row.loadAfter} |`,
    );
  }
  return lines.join("\n");
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
