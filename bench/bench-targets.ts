import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type RunningProcess, startProcess } from "../test/support/process.ts";
import type { RedisClusterServers, RedisServer } from "../test/support/redis-server.ts";
import { ROOT } from "./ghz-run.ts";
import { type ReferenceSettings, startReference } from "./reference-target.ts";
import type { TargetName } from "./scenarios.ts";

const run = promisify(execFile);

/** A server under test, started fresh for one scenario so no counter carries over. */
export interface RunningTarget {
  readonly name: TargetName;
  readonly address: string;
  /** Sluice's admin URL (absent for the baseline). */
  readonly adminUrl?: string;
  /** How the server was started, for the report (relative to the repository root). */
  readonly command: string;
  readonly pid: number;
  /** What the server has printed so far (the last OUTPUT_LIMIT bytes, test/support/process.ts). */
  output(): string;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** CPU list for `taskset -c`, or undefined to run unpinned. */
  readonly pinTo?: string | undefined;
  /** `--workers` for Sluice; undefined leaves the flag out (Sluice's default). */
  readonly workers?: number | undefined;
  /** `--local-cache-size` for Sluice; undefined leaves the flag out. */
  readonly localCacheSize?: number | undefined;
  /** Sluice's `--policy` directories; undefined: deploy/policies and bench/policies. */
  readonly policyDirs?: readonly string[] | undefined;
  /** The baseline server's `--transport` (baseline-server.ts); undefined: its default, Sluice's. */
  readonly transport?: string | undefined;
  /** The checkout whose bin/sluice.js (or baseline server) runs, its policies with it; default: this one. */
  readonly root?: string | undefined;
  /** Extra node flags, e.g. `--cpu-prof`. */
  readonly nodeFlags?: readonly string[];
  readonly redis?: RedisServer | undefined;
  readonly cluster?: RedisClusterServers | undefined;
  /** The reference's settings and runtime root (its policies), for the `reference` target. */
  readonly reference?: { readonly settings: ReferenceSettings; readonly runtimeRoot: string } | undefined;
}

const SERVING = /"grpcPort":(\d+)(?:,"adminPort":(\d+))?/;

export async function startTarget(name: TargetName, options: TargetOptions): Promise<RunningTarget> {
  if (name === "reference") {
    if (options.reference === undefined) throw new Error("the reference target needs its settings");
    // On a Cluster when one is given (the cluster scenario), else on the single Redis.
    const started = await startReference({
      ...options.reference,
      redis: options.cluster === undefined ? options.redis : undefined,
      cluster: options.cluster,
      pinTo: options.pinTo,
    });
    return { name, ...started };
  }
  const node = [process.execPath, ...(options.nodeFlags ?? [])];
  const args =
    name === "baseline" || name === "baseline-sized"
      ? [
          "bench/baseline-server.ts",
          "--grpc-addr",
          "127.0.0.1:0",
          "--reply",
          name === "baseline" ? "minimal" : "sized",
          ...(options.transport === undefined ? [] : ["--transport", options.transport]),
        ]
      : ["bin/sluice.js", "serve", ...sluiceArgs(name, options)];
  const pinned = options.pinTo === undefined ? [] : ["taskset", "-c", options.pinTo];
  const [command, ...rest] = [...pinned, ...node, ...args];
  const child: RunningProcess = await startProcess({
    name,
    command: command as string,
    args: rest,
    cwd: options.root ?? ROOT,
    // The whole line: Sluice (pino) puts the ports before "msg", the baseline after it.
    ready: { output: /[^\n]*"msg":"serving"[^\n]*\n/ },
  });
  const ports = SERVING.exec(child.readyMatch?.[0] ?? "");
  if (ports === null) throw new Error(`${name}: no port in its serving line:\n${child.output()}`);
  const shown = [...pinned, "node", ...(options.nodeFlags ?? []), ...args].join(" ");
  return {
    name,
    address: `127.0.0.1:${ports[1]}`,
    adminUrl: ports[2] === undefined ? undefined : `http://127.0.0.1:${ports[2]}`,
    command: shown,
    pid: child.pid,
    output: child.output,
    stop: async () => {
      await child.stop(15_000);
    },
  };
}

function sluiceArgs(name: "memory" | "redis" | "redis-cluster", options: TargetOptions): string[] {
  const dirs = options.policyDirs ?? ["deploy/policies", "bench/policies"];
  const args = dirs.flatMap((dir) => ["--policy", dir]);
  args.push("--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0");
  // The store deadline is the product's default: it follows ghz's own call deadline (20 s).
  if (name === "redis") {
    if (options.redis === undefined) throw new Error("the redis target needs a Redis");
    args.push("--redis-url", options.redis.url);
  }
  if (name === "redis-cluster") {
    if (options.cluster === undefined) throw new Error("the redis-cluster target needs a Redis Cluster");
    args.push("--redis-cluster", options.cluster.nodes.join(","));
  }
  if (options.workers !== undefined) args.push("--workers", String(options.workers));
  if (options.localCacheSize !== undefined) args.push("--local-cache-size", String(options.localCacheSize));
  return args;
}

/** Empties every Redis the benchmark started, so a scenario starts from zero counters. */
export async function flushRedis(options: TargetOptions): Promise<void> {
  const ports = [
    ...(options.redis === undefined ? [] : [options.redis.port]),
    ...(options.cluster?.servers.map((s) => s.port) ?? []),
  ];
  await Promise.all(
    ports.map((port) => run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "flushall"])),
  );
}

/** Sums a counter family from Sluice's /metrics, e.g. decisions by code. */
export async function scrapeCounter(adminUrl: string, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const sums = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const labels = match[2] ?? "";
    sums.set(labels, (sums.get(labels) ?? 0) + Number(match[3]));
  }
  return sums;
}
