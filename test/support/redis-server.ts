import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

/**
 * Real redis-server processes for tests: each on free loopback ports, with its data in a temp
 * directory, stopped by its own PID. Never touches a Redis the test did not start.
 */

export interface RedisServer {
  readonly port: number;
  /** `redis://[:password@]127.0.0.1:<port>` */
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL if it has not exited after a bounded wait; removes the temp dir. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Reuse a port, e.g. to restart a stopped server where its clients expect it. */
  readonly port?: number;
  /** Sets `requirepass`; the url then carries it. */
  readonly password?: string;
  /** Also listens on this Unix socket path (the url stays TCP, for the test's own client). */
  readonly unixSocket?: string;
}

/** PEM files for a server that speaks only TLS (`port 0`, `tls-port`); clients are not asked for certificates. */
export interface RedisTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /**
   * The certificate a node presents when it connects to another (cluster bus, replication), which
   * always checks it, whatever `tls-auth-clients` says; it must allow client use.
   */
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
}

export interface RedisClusterServers {
  /** `127.0.0.1:<port>` of each master. */
  readonly nodes: string[];
  readonly servers: RedisServer[];
  stop(): Promise<void>;
}

/** How to start one redis-server (or sentinel) process; see launchRedis. */
export interface LaunchOptions {
  /** The port clients use: the TLS port when `tls` is set. */
  readonly port: number;
  /** Arguments after the defaults (later ones win). */
  readonly extra?: readonly string[];
  /** The `requirepass`, for the readiness probe (set it in `extra` or the config file). */
  readonly password?: string;
  readonly tls?: RedisTlsFiles;
  /** Writes a config file into the server's temp directory; its path goes first (`sentinel.conf --sentinel`). */
  readonly configFile?: (dir: string) => Promise<string>;
}

const READY_TIMEOUT_MS = 15_000;
const POLL_MS = 50;
const STOP_GRACE_MS = 5_000;
const START_ATTEMPTS = 3;

/** Children still running, killed if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  return startWithRetry(async () => {
    const port = options.port ?? (await freePort());
    const extra = [
      ...(options.password === undefined ? [] : ["--requirepass", options.password]),
      ...(options.unixSocket === undefined
        ? []
        : ["--unixsocket", options.unixSocket, "--unixsocketperm", "700"]),
    ];
    const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`;
    const server = await launchRedis({ port, extra, password: options.password });
    return { ...server, url: `redis://${auth}127.0.0.1:${port}` };
  }, options.port === undefined);
}

export interface StartClusterOptions {
  /** Every node (and the cluster bus) speaks only TLS; `nodes` are still `127.0.0.1:<port>`. */
  readonly tls?: RedisTlsFiles;
  /** `requirepass` (and `masterauth`) of every node. */
  readonly password?: string;
}

/** Three masters, no replicas, all 16384 slots assigned, `cluster_state:ok` on every node. */
export async function startRedisCluster(options: StartClusterOptions = {}): Promise<RedisClusterServers> {
  const { tls, password } = options;
  const auth = password === undefined ? [] : ["--requirepass", password, "--masterauth", password];
  const cli = [...cliTls(tls), ...cliAuth(password)];
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let n = 0; n < 3; n++) {
      servers.push(
        await startWithRetry(async () => {
          const port = await freePort();
          // cluster-port (Redis 7) pins the bus port; the default port+10000 may be taken or > 65535.
          const busPort = await freePort();
          const extra = ["--cluster-enabled", "yes", "--cluster-port", String(busPort), ...auth];
          return launchRedis({
            port,
            tls,
            password,
            extra: tls ? [...extra, "--tls-cluster", "yes"] : extra,
          });
        }, true),
      );
    }
    const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
    const create = ["--cluster", "create", ...nodes, "--cluster-replicas", "0", "--cluster-yes"];
    await redisCli([...cli, ...create], 30_000);
    for (const server of servers) {
      await until(async () => {
        const info = await redisCli([...cli, "-p", String(server.port), "cluster", "info"]).catch(() => "");
        return info.includes("cluster_state:ok") && info.includes("cluster_known_nodes:3");
      }, `cluster_state:ok on port ${server.port}`);
    }
    return { nodes, servers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts one process on loopback with its data (and config file) in a temp directory and waits
 * until it answers PING; `stop` ends it by its PID and removes the directory.
 */
export async function launchRedis(options: LaunchOptions): Promise<RedisServer> {
  const { port, tls, password } = options;
  const dir = await mkdtemp(join(tmpdir(), "sluice-redis-"));
  const config = options.configFile ? [await options.configFile(dir), "--sentinel"] : [];
  const listen = tls
    ? [
        ...["--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.certFile],
        ...["--tls-key-file", tls.keyFile, "--tls-ca-cert-file", tls.caFile, "--tls-auth-clients", "no"],
        ...(tls.clientCertFile === undefined ? [] : ["--tls-client-cert-file", tls.clientCertFile]),
        ...(tls.clientKeyFile === undefined ? [] : ["--tls-client-key-file", tls.clientKeyFile]),
      ]
    : ["--port", String(port)];
  const child = spawn(
    "redis-server",
    [
      ...config,
      ...listen,
      ...["--bind", "127.0.0.1", "--dir", dir],
      ...["--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"],
      ...(options.extra ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  running.add(child);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(() => running.delete(child));

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        if (!(await settlesWithin(exited, STOP_GRACE_MS))) {
          child.kill("SIGKILL");
          await settlesWithin(exited, STOP_GRACE_MS);
        }
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const pid = child.pid;
  try {
    if (pid === undefined) throw new Error("redis-server did not start (is it installed?)");
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited on port ${port}: ${output}`);
      const pong = await redisCli([...cliTls(tls), ...cliAuth(password), "-p", String(port), "ping"]).catch(
        () => "",
      );
      return pong.trim() === "PONG";
    }, `redis-server on port ${port}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pid, url: `${tls ? "rediss" : "redis"}://127.0.0.1:${port}`, stop };
}

/** Retries a start whose port was taken between freePort() and the server's bind. */
export async function startWithRetry<T>(start: () => Promise<T>, retry: boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      const inUse = error instanceof Error && error.message.includes("Address already in use");
      if (!retry || !inUse || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

/** redis-cli's arguments to reach a TLS-only server (none for plaintext). */
export function cliTls(tls: RedisTlsFiles | undefined): string[] {
  return tls ? ["--tls", "--cacert", tls.caFile] : [];
}

/** redis-cli's arguments to authenticate (none without a password). */
export function cliAuth(password: string | undefined): string[] {
  return password === undefined ? [] : ["-a", password, "--no-auth-warning"];
}

/** One redis-cli command on 127.0.0.1 (pass `-p`); resolves to its output. */
export function redisCli(args: string[], timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("redis-cli", ["-h", "127.0.0.1", ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(" ")}: ${error.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Polls `check` every POLL_MS until it is true; fails after `timeoutMs`. */
export async function until(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
