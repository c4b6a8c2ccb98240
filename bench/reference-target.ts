import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "../test/support/free-port.ts";
import { type RunningProcess, startProcess } from "../test/support/process.ts";
import type { RedisClusterServers, RedisServer } from "../test/support/redis-server.ts";
import { accepts } from "../test/support/reference-ratelimit.ts";
import { ROOT } from "./ghz-run.ts";
import type { ReferencePolicies } from "./reference-policies.ts";

/**
 * envoyproxy/ratelimit (.tools/bin/ratelimit, installed by scripts/setup.sh) as a bench target, on
 * the bench's own Redis, configured only by environment variables as that service is.
 */

export const REFERENCE_BIN = ".tools/bin/ratelimit";
const SUBDIRECTORY = "ratelimit";
const START_ATTEMPTS = 3;

/** One configuration of the reference, a row of its own in the tables. */
export interface ReferenceSettings {
  /**
   * REDIS_PIPELINE_WINDOW (a Go duration: `0`, `150us`): how long its Redis client buffers writes
   * before flushing them together. `0` flushes each at once; a Cluster needs a non-zero window.
   * (REDIS_PIPELINE_LIMIT has no effect in this version: radix v4 ignores it, with a warning.)
   */
  readonly pipelineWindow: string;
  /** LOCAL_CACHE_SIZE_IN_BYTES: its over-limit cache (0: off, its default). */
  readonly localCacheBytes: number;
}

export interface StartedReference {
  readonly address: string;
  readonly pid: number;
  /** The environment and command line, for the report. */
  readonly command: string;
  /** What the service has printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Writes the reference-compatible policies under `root`, once per bench run. */
export async function writeReferenceRuntime(root: string, policies: ReferencePolicies): Promise<string> {
  const config = join(root, SUBDIRECTORY, "config");
  await mkdir(config, { recursive: true });
  for (const [name, text] of Object.entries(policies.files)) await writeFile(join(config, name), text);
  return root;
}

export async function startReference(options: {
  readonly runtimeRoot: string;
  readonly settings: ReferenceSettings;
  readonly redis?: RedisServer | undefined;
  readonly cluster?: RedisClusterServers | undefined;
  readonly pinTo?: string | undefined;
}): Promise<StartedReference> {
  const redisEnv = redisSettings(options);
  for (let attempt = 1; ; attempt++) {
    const [grpcPort, httpPort, debugPort] = [await freePort(), await freePort(), await freePort()];
    const env: Record<string, string> = {
      USE_STATSD: "false",
      LOG_LEVEL: "error",
      ...redisEnv,
      REDIS_PIPELINE_WINDOW: options.settings.pipelineWindow,
      LOCAL_CACHE_SIZE_IN_BYTES: String(options.settings.localCacheBytes),
      RUNTIME_ROOT: options.runtimeRoot,
      RUNTIME_SUBDIRECTORY: SUBDIRECTORY,
      RUNTIME_WATCH_ROOT: "false",
      HOST: "127.0.0.1",
      PORT: String(httpPort),
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      DEBUG_HOST: "127.0.0.1",
      DEBUG_PORT: String(debugPort),
    };
    const pinned = options.pinTo === undefined ? [] : ["taskset", "-c", options.pinTo];
    const [command, ...args] = [...pinned, `${ROOT}${REFERENCE_BIN}`];
    try {
      const child: RunningProcess = await startProcess({
        name: "envoyproxy/ratelimit",
        command: command as string,
        args,
        env: { PATH: process.env.PATH, ...env },
        cwd: ROOT,
        // It loads its config before opening any listener, and opens gRPC last.
        ready: { probe: () => accepts(grpcPort) },
        readyTimeoutMs: 20_000,
      });
      const shown = Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      return {
        address: `127.0.0.1:${grpcPort}`,
        pid: child.pid,
        command: `env ${shown} ${[...pinned, REFERENCE_BIN].join(" ")}`,
        output: child.output,
        stop: async () => {
          await child.stop(15_000);
        },
      };
    } catch (error) {
      // A port taken between freePort() and the bind: the service exits naming it.
      const inUse = error instanceof Error && /address already in use/i.test(error.message);
      if (!inUse || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

function redisSettings(options: {
  readonly redis?: RedisServer | undefined;
  readonly cluster?: RedisClusterServers | undefined;
}): Record<string, string> {
  if (options.cluster !== undefined) {
    return { REDIS_SOCKET_TYPE: "tcp", REDIS_TYPE: "cluster", REDIS_URL: options.cluster.nodes.join(",") };
  }
  if (options.redis === undefined) throw new Error("the reference target needs a Redis");
  return { REDIS_SOCKET_TYPE: "tcp", REDIS_URL: `127.0.0.1:${options.redis.port}` };
}
