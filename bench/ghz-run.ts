import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type LatencyPercentiles, percentiles } from "./percentiles.ts";

/**
 * One ghz run against ShouldRateLimit, with the service read from the project's own proto/ (ghz
 * resolves the google/protobuf imports itself), and its JSON report reduced to what the tables show.
 */

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const GHZ = `${ROOT}.tools/bin/ghz`;
const CALL = "envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

export interface GhzOptions {
  readonly address: string;
  /** A JSON array of RateLimitRequest, cycled through one element per call. */
  readonly dataFile: string;
  /** Run for this long (`10s`), or else send `total` calls. */
  readonly duration?: string;
  readonly total?: number;
  readonly concurrency: number;
  readonly connections: number;
  /** Constant request rate (calls/s); unset means as fast as the server answers. */
  readonly rps?: number;
  /** Go scheduler threads ghz may use (`--cpus`). */
  readonly cpus: number;
  /** CPU list for `taskset -c` (e.g. "1"), or undefined to run unpinned. */
  readonly pinTo?: string | undefined;
}

/**
 * The load of the side-by-side tools (gc-pairs.ts, tail-pairs.ts): 50 calls in flight over 4
 * connections from one ghz thread, on CPU 1 when the server is pinned to CPU 0, as run-bench.ts does.
 */
export function pairedLoad(
  address: string,
  dataFile: string,
  pinned: boolean,
  extra: Partial<GhzOptions>,
): GhzOptions {
  return {
    address,
    dataFile,
    concurrency: 50,
    connections: 4,
    cpus: 1,
    pinTo: pinned ? "1" : undefined,
    ...extra,
  };
}

export interface GhzResult {
  readonly count: number;
  readonly rps: number;
  readonly errors: number;
  readonly latency: LatencyPercentiles;
  /** The command line that reproduces this run (relative to the repository root). */
  readonly command: string;
}

export function ghzArgs(options: GhzOptions): string[] {
  const args = [
    "--insecure",
    "--proto",
    "proto/envoy/service/ratelimit/v3/rls.proto",
    "--import-paths",
    "proto",
    "--call",
    CALL,
    "--data-file",
    options.dataFile,
    "--concurrency",
    String(options.concurrency),
    "--connections",
    String(options.connections),
    "--cpus",
    String(options.cpus),
    // Templates are not used; skipping them keeps ghz's own cost per call down.
    "--disable-template-functions",
    "--disable-template-data",
  ];
  // `wait`: calls in flight when the duration ends finish and count, rather than failing as errors.
  if (options.duration !== undefined) args.push("--duration", options.duration, "--duration-stop", "wait");
  else args.push("--total", String(options.total ?? 1000));
  if (options.rps !== undefined) args.push("--rps", String(options.rps));
  args.push(options.address);
  return args;
}

export function ghzCommand(options: GhzOptions): string {
  const ghz = [".tools/bin/ghz", ...ghzArgs(options)].join(" ");
  return options.pinTo === undefined ? ghz : `taskset -c ${options.pinTo} ${ghz}`;
}

export async function runGhz(options: GhzOptions): Promise<GhzResult> {
  if (!existsSync(GHZ)) throw new Error(`${GHZ} is missing: run npm run setup`);
  const ghz = [GHZ, ...ghzArgs(options), "--format", "json"];
  const [command, ...args] = options.pinTo === undefined ? ghz : ["taskset", "-c", options.pinTo, ...ghz];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      command as string,
      args,
      { cwd: ROOT, maxBuffer: 1 << 30, timeout: 10 * 60_000 },
      (error, out, stderr) =>
        error ? reject(new Error(`ghz failed: ${error.message}\n${stderr}`)) : resolve(out),
    );
  });
  const report = JSON.parse(stdout) as GhzReport;
  const latencies = (report.details ?? []).filter((d) => d.error === "").map((d) => d.latency);
  return {
    count: report.count,
    rps: report.rps,
    errors: Object.values(report.errorDistribution ?? {}).reduce((n, c) => n + c, 0),
    latency: percentiles(latencies.map((ns) => ns / 1e6)),
    command: ghzCommand(options),
  };
}

/** The parts of ghz's `--format json` report read here; latencies are in nanoseconds. */
interface GhzReport {
  readonly count: number;
  readonly rps: number;
  readonly errorDistribution?: Record<string, number>;
  readonly details?: readonly { latency: number; error: string; status: string }[];
}
