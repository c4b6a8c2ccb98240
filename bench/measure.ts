import {
  flushRedis,
  type RunningTarget,
  scrapeCounter,
  startTarget,
  type TargetOptions,
} from "./bench-targets.ts";
import { type GhzOptions, runGhz } from "./ghz-run.ts";
import { loadAverages } from "./machine-info.ts";
import { processTreeCpuMs } from "./process-cpu.ts";
import { redisWork } from "./redis-info.ts";
import type { Measurement } from "./report.ts";
import type { TargetName } from "./scenarios.ts";

/** One row to measure: which server, how it is labelled, how it is started. */
export interface BenchRow {
  readonly target: TargetName;
  readonly label: string;
  readonly options: TargetOptions;
}

export interface MeasureSettings {
  /** ghz's options against a server's address. */
  readonly load: (dataFile: string, address: string) => GhzOptions;
  /** Calls sent before measuring (JIT, connections, every tenant's counters); 0 for none. */
  readonly warmupCalls: (dataFile: string) => Promise<number>;
}

/**
 * Starts the row's server fresh (Redis flushed), warms it up, runs ghz once (at `rps` calls/s if
 * given, else closed loop) and reads around that run: the server's CPU from /proc, Sluice's
 * /metrics, and the Redis servers' INFO (CPU, script calls).
 */
export async function measure(
  settings: MeasureSettings,
  scenario: string,
  row: BenchRow,
  dataFile: string,
  rps?: number,
): Promise<Measurement> {
  const { options } = row;
  await flushRedis(options);
  const redisPorts = [
    ...(options.redis === undefined ? [] : [options.redis.port]),
    ...(options.cluster?.servers.map((s) => s.port) ?? []),
  ];
  const server: RunningTarget = await startTarget(row.target, options);
  try {
    const ghz = settings.load(dataFile, server.address);
    const warmup = await settings.warmupCalls(dataFile);
    if (warmup > 0) await runGhz({ ...ghz, duration: undefined, total: warmup });
    const before = await decisions(server);
    const redisBefore = await redisWork(redisPorts);
    const loadBefore = loadAverages();
    const cpuBefore = await processTreeCpuMs(server.pid);
    const result = await runGhz(rps === undefined ? ghz : { ...ghz, rps });
    const cpuAfter = await processTreeCpuMs(server.pid);
    const loadAfter = loadAverages();
    const redisAfter = await redisWork(redisPorts);
    const after = await decisions(server);
    const answered = after.ok + after.overLimit - before.ok - before.overLimit;
    const perCall = (a: number | undefined, b: number | undefined, scale: number) =>
      a === undefined || b === undefined || result.count === 0 ? undefined : ((b - a) * scale) / result.count;
    return {
      scenario,
      target: row.target,
      label: row.label,
      result,
      overLimit:
        server.adminUrl === undefined || answered === 0
          ? undefined
          : (after.overLimit - before.overLimit) / answered,
      cacheHits: server.adminUrl === undefined ? undefined : after.cacheHits - before.cacheHits,
      serverP99Ms: serverP99Ms(before, after),
      cpuUsPerCall: perCall(cpuBefore, cpuAfter, 1000),
      redisCpuUsPerCall: perCall(redisBefore?.cpuSeconds, redisAfter?.cpuSeconds, 1e6),
      scriptCallsPerCall: perCall(redisBefore?.scriptCalls, redisAfter?.scriptCalls, 1),
      loadBefore,
      loadAfter,
      serverCommand: server.command,
    };
  } finally {
    await server.stop();
  }
}

/** The round with the median RPS (the lower middle one for an even count). */
export function median(runs: readonly Measurement[]): Measurement {
  const sorted = [...runs].sort((a, b) => a.result.rps - b.result.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)] as Measurement;
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

/**
 * Every row measured `rounds` times, interleaved (a, b, c, a, b, c, ...), so a burst of other load
 * on the machine hits all of them alike; the runs by label.
 */
export async function measureRounds(
  settings: MeasureSettings,
  scenario: string,
  rows: readonly BenchRow[],
  dataFile: string,
  rounds: number,
  rps?: number,
): Promise<Map<string, Measurement[]>> {
  const runs = new Map<string, Measurement[]>(rows.map((r) => [r.label, []]));
  for (let round = 0; round < rounds; round++) {
    for (const r of rows) runs.get(r.label)?.push(await measure(settings, scenario, r, dataFile, rps));
  }
  return runs;
}
