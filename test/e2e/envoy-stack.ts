import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { type HostPort, type RunningEnvoy, startEnvoy } from "../support/envoy.ts";
import { freePort } from "../support/free-port.ts";
import { type RunningProcess, startProcess } from "../support/process.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";

// The whole demo on loopback: redis-server, `sluice serve` on the sample policy, the sample upstream
// and the real Envoy on envoy/envoy.yaml. The end-to-end suite and `npm run stack` both start it here.

const repoRoot = resolve(import.meta.dirname, "../..");
const LOOPBACK = "127.0.0.1";
const START_ATTEMPTS = 3;

export interface EnvoyStackOptions {
  /** Policy files or directories for Sluice (default: deploy/policies). */
  readonly policyPaths?: readonly string[];
  /** Rate-limit RPC timeout for Envoy (default: envoy/envoy.yaml's own). */
  readonly rlsTimeout?: string;
  readonly failureModeDeny?: boolean;
  /** Envoy's public listener port (default: a free one). */
  readonly listenerPort?: number;
  /** Copy every process's output to stderr. */
  readonly echo?: boolean;
}

export interface EnvoyStack {
  readonly redis: RedisServer;
  readonly upstreamUrl: string;
  /** Where Sluice serves gRPC; kept across stopSluice()/startSluice(). */
  readonly sluice: HostPort;
  readonly sluiceAdminUrl: string;
  readonly envoy: RunningEnvoy;
  /** Stops Sluice (SIGTERM), leaving Envoy and Redis running. */
  stopSluice(): Promise<void>;
  /** Starts Sluice again on the same ports and Redis. */
  startSluice(): Promise<void>;
  /** Another Envoy on the same upstream, e.g. the failure_mode_deny variant; on another Sluice if given. */
  startAnotherEnvoy(options: { failureModeDeny?: boolean; sluice?: HostPort }): Promise<RunningEnvoy>;
  /**
   * Another Sluice on the stack's Redis (so sharing its counters and leases), on free ports, with
   * the stack's policy unless given another.
   */
  startAnotherSluice(options?: { policyPaths?: readonly string[] }): Promise<AnotherSluice>;
  /** The upstream's in-flight figures; `reset` starts a new peak measurement from now. */
  upstreamStats(options?: { reset?: boolean }): Promise<UpstreamStats>;
  /** Forgets every counter (FLUSHALL on the stack's own Redis), so a test starts from full quotas. */
  resetCounters(): Promise<void>;
  stop(): Promise<void>;
}

export interface AnotherSluice {
  readonly grpc: HostPort;
  readonly adminUrl: string;
  /** Stops it (SIGTERM); Envoys pointing at it then fail open until it is started again. */
  stop(): Promise<void>;
  /** Starts it again on the same ports. */
  start(): Promise<void>;
}

export interface UpstreamStats {
  readonly inFlight: number;
  readonly peakInFlight: number;
  readonly served: number;
}

export async function startEnvoyStack(options: EnvoyStackOptions = {}): Promise<EnvoyStack> {
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const redis = await startRedis();
    stops.push(() => redis.stop());

    const upstream = await startProcess({
      name: "upstream",
      command: process.execPath,
      args: ["deploy/upstream/server.ts", "--host", LOOPBACK, "--port", "0"],
      cwd: repoRoot,
      echo: options.echo,
      ready: { output: /upstream listening on (http:\/\/[\d.]+:(\d+))/ },
    });
    stops.push(() => upstream.stop());
    const upstreamUrl = upstream.readyMatch?.[1] ?? "";
    const upstreamAddress = { host: LOOPBACK, port: Number(upstream.readyMatch?.[2]) };

    const policyPaths = options.policyPaths ?? ["deploy/policies"];
    let sluiceProcess = await startSluiceOnFreePorts(redis.url, policyPaths, options.echo);
    const { grpc: sluice, adminPort } = sluiceProcess;
    stops.push(() => sluiceProcess.process.stop());

    const envoyOptions = {
      sluice,
      upstream: upstreamAddress,
      rlsTimeout: options.rlsTimeout,
      echo: options.echo,
    };
    const envoy = await startEnvoy({
      ...envoyOptions,
      failureModeDeny: options.failureModeDeny,
      listenerPort: options.listenerPort,
    });
    stops.push(() => envoy.stop());

    return {
      redis,
      upstreamUrl,
      sluice,
      sluiceAdminUrl: `http://${LOOPBACK}:${adminPort}`,
      envoy,
      stopSluice: async () => {
        await sluiceProcess.process.stop();
      },
      startSluice: async () => {
        sluiceProcess = {
          ...sluiceProcess,
          process: await startSluice(sluice.port, adminPort, redis.url, policyPaths, options.echo),
        };
      },
      startAnotherEnvoy: async ({ failureModeDeny, sluice: target }) => {
        const another = await startEnvoy({ ...envoyOptions, failureModeDeny, sluice: target ?? sluice });
        stops.push(() => another.stop());
        return another;
      },
      startAnotherSluice: async ({ policyPaths: ownPolicy = policyPaths } = {}) => {
        let started = await startSluiceOnFreePorts(redis.url, ownPolicy, options.echo);
        stops.push(() => started.process.stop());
        return {
          grpc: started.grpc,
          adminUrl: `http://${LOOPBACK}:${started.adminPort}`,
          stop: async () => {
            await started.process.stop();
          },
          start: async () => {
            const { port } = started.grpc;
            started = {
              ...started,
              process: await startSluice(port, started.adminPort, redis.url, ownPolicy, options.echo),
            };
          },
        };
      },
      upstreamStats: async ({ reset = false } = {}) => {
        const response = await fetch(`${upstreamUrl}/_stats`, { method: reset ? "POST" : "GET" });
        return (await response.json()) as UpstreamStats;
      },
      resetCounters: async () => {
        await promisify(execFile)("redis-cli", ["-h", LOOPBACK, "-p", String(redis.port), "FLUSHALL"]);
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

interface SluiceProcess {
  readonly process: RunningProcess;
  readonly grpc: HostPort;
  readonly adminPort: number;
}

/** Free ports are only free until someone binds them: retry a start that lost that race. */
async function startSluiceOnFreePorts(
  redisUrl: string,
  policyPaths: readonly string[],
  echo?: boolean,
): Promise<SluiceProcess> {
  for (let attempt = 1; ; attempt++) {
    const grpcPort = await freePort();
    const adminPort = await freePort();
    try {
      const started = await startSluice(grpcPort, adminPort, redisUrl, policyPaths, echo);
      return { process: started, grpc: { host: LOOPBACK, port: grpcPort }, adminPort };
    } catch (error) {
      const lostRace = error instanceof Error && /EADDRINUSE|address already in use/i.test(error.message);
      if (!lostRace || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

/** `node bin/sluice.js serve` on the given policy, ready once its admin /readyz answers 200. */
function startSluice(
  grpcPort: number,
  adminPort: number,
  redisUrl: string,
  policyPaths: readonly string[],
  echo?: boolean,
): Promise<RunningProcess> {
  return startProcess({
    name: "sluice",
    command: process.execPath,
    args: [
      ...["bin/sluice.js", "serve", ...policyPaths.flatMap((path) => ["--policy", path])],
      ...["--grpc-addr", `${LOOPBACK}:${grpcPort}`, "--admin-addr", `${LOOPBACK}:${adminPort}`],
      ...["--redis-url", redisUrl],
      // Envoy's own deadline (the filter timeout) bounds each call anyway; a store deadline above it
      // keeps a busy 2-core test box from failing healthy Redis calls at the 50 ms default.
      ...["--store-timeout-ms", "1000"],
    ],
    cwd: repoRoot,
    echo,
    ready: { probe: async () => (await fetch(`http://${LOOPBACK}:${adminPort}/readyz`)).ok },
  });
}
