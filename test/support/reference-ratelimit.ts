import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.ts";
import { type RunningProcess, startProcess } from "./process.ts";
import { type RedisServer, startRedis } from "./redis-server.ts";

/**
 * The reference service, envoyproxy/ratelimit, as scripts/setup.sh installs it (.tools/bin/ratelimit),
 * started on free loopback ports with its own fresh redis-server and stopped by PID. Its policy files
 * are written by the test into a temp runtime directory; nothing of the reference is kept in the repo.
 */

export const REFERENCE_BIN = fileURLToPath(new URL("../../.tools/bin/ratelimit", import.meta.url));

export interface ReferenceRatelimit {
  /** `127.0.0.1:<port>` of its gRPC server. */
  readonly grpcAddress: string;
  readonly pid: number;
  readonly redis: RedisServer;
  output(): string;
  /** Stops the service and its Redis, and removes the runtime directory. */
  stop(): Promise<void>;
}

export interface StartReferenceOptions {
  /** Policy files by file name (`api.yaml`), written to `$RUNTIME_ROOT/$RUNTIME_SUBDIRECTORY/config/`. */
  readonly policies: Readonly<Record<string, string>>;
}

const SUBDIRECTORY = "ratelimit";
const START_ATTEMPTS = 3;

export async function startReference(options: StartReferenceOptions): Promise<ReferenceRatelimit> {
  const root = await mkdtemp(join(tmpdir(), "sluice-reference-"));
  const configDir = join(root, SUBDIRECTORY, "config");
  await mkdir(configDir, { recursive: true });
  for (const [name, text] of Object.entries(options.policies)) await writeFile(join(configDir, name), text);
  let redis: RedisServer | undefined;
  try {
    redis = await startRedis();
    const service = await launchWithRetry(root, redis);
    const ownRedis = redis;
    return {
      grpcAddress: service.grpcAddress,
      pid: service.process.pid,
      redis: ownRedis,
      output: () => service.process.output(),
      async stop() {
        await service.process.stop();
        await ownRedis.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

async function launchWithRetry(
  root: string,
  redis: RedisServer,
): Promise<{ process: RunningProcess; grpcAddress: string }> {
  for (let attempt = 1; ; attempt++) {
    const [grpcPort, httpPort, debugPort] = [await freePort(), await freePort(), await freePort()];
    try {
      const process = await startProcess({
        name: "envoyproxy/ratelimit",
        command: REFERENCE_BIN,
        args: [],
        env: referenceEnv({ root, redisPort: redis.port, grpcPort, httpPort, debugPort }),
        // It loads the initial config before it opens any listener, and opens gRPC last.
        ready: { probe: () => accepts(grpcPort) },
        readyTimeoutMs: 20_000,
      });
      return { process, grpcAddress: `127.0.0.1:${grpcPort}` };
    } catch (error) {
      // A port taken between freePort() and the bind: the service exits naming it.
      const inUse = error instanceof Error && /address already in use/i.test(error.message);
      if (!inUse || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

/** Whether a TCP connection to the loopback port succeeds: the reference's readiness. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

interface EnvPorts {
  readonly root: string;
  readonly redisPort: number;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly debugPort: number;
}

/**
 * Its settings are environment variables only. Everything not needed is off: statsd, the runtime
 * watcher (the files never change during a run), expiry jitter, and the local over-limit cache
 * (LOCAL_CACHE_SIZE_IN_BYTES=0, its default) so every answer comes from Redis counters.
 */
function referenceEnv(ports: EnvPorts): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    USE_STATSD: "false",
    LOG_LEVEL: "warn",
    REDIS_SOCKET_TYPE: "tcp",
    REDIS_URL: `127.0.0.1:${ports.redisPort}`,
    RUNTIME_ROOT: ports.root,
    RUNTIME_SUBDIRECTORY: SUBDIRECTORY,
    RUNTIME_WATCH_ROOT: "false",
    HOST: "127.0.0.1",
    PORT: String(ports.httpPort),
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: String(ports.grpcPort),
    DEBUG_HOST: "127.0.0.1",
    DEBUG_PORT: String(ports.debugPort),
    LOCAL_CACHE_SIZE_IN_BYTES: "0",
    EXPIRATION_JITTER_MAX_SECONDS: "0",
    STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT: "false",
  };
}
