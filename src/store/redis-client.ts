import { Cluster, Redis, type RedisOptions } from "ioredis";
import { clusterTlsCheck } from "./redis-tls-check.ts";
import { isUnixSocketUrl, parseUnixSocketUrl } from "./redis-unix-socket.ts";
import { watchSentinelFailovers } from "./sentinel-failover-watch.ts";

/**
 * Where the counters live: one Redis (`redis://`, `rediss://`, passwords in the URL; `unix://` for a
 * socket path, redis-unix-socket.ts), a Cluster, or the master a set of Sentinels names. Seeds
 * (Cluster nodes, sentinels) are `host:port` or URLs; the first seed's scheme and credentials apply
 * to every node found from them.
 */
export type RedisTarget =
  | { readonly url?: string }
  | { readonly clusterNodes: readonly string[] }
  | {
      readonly sentinels: readonly string[];
      readonly masterName: string;
      /** AUTH password of the master; the sentinels' own credentials come with their seed URLs. */
      readonly masterPassword?: string | undefined;
    };

export interface RedisClientOptions {
  /** Timeouts and retry rules every connection gets (to a node, not to a sentinel). */
  readonly common: RedisOptions;
  /** Delay before reconnect attempt `times`, in ms; also between rounds of asking every sentinel. */
  readonly retryDelayMs: (times: number) => number;
  /** CA a TLS server's certificate must chain to; the system's CAs without it. */
  readonly tlsCa?: Buffer | undefined;
  /** Connection trouble ioredis would not report by itself (see redis-tls-check.ts). */
  readonly onError?: ((error: Error) => void) | undefined;
}

/** The ioredis client for a target; it connects at once and reconnects by itself. */
export function createRedisClient(target: RedisTarget, options: RedisClientOptions): Redis | Cluster {
  const { common, retryDelayMs, tlsCa } = options;
  const tls = tlsCa === undefined ? {} : { ca: tlsCa };
  if ("clusterNodes" in target) {
    const seed = parseSeed(target.clusterNodes[0]);
    const cluster = new Cluster([...target.clusterNodes], {
      // Fail fast while no node is reachable instead of queueing requests without bound.
      enableOfflineQueue: false,
      clusterRetryStrategy: retryDelayMs,
      // Nodes learnt from CLUSTER SLOTS get the credentials and TLS of the first seed.
      redisOptions: { ...common, ...seed.credentials, ...(seed.tls ? { tls } : {}) },
    });
    // 'error' here means no seed answered CLUSTER SLOTS.
    if (seed.tls && options.onError)
      cluster.on("error", clusterTlsCheck(seed.address, tlsCa, options.onError));
    return cluster;
  }
  // No ioredis auto-pipelining: the charges of one event-loop turn already go out as one script call
  // (redis-charge-batch.ts), and the Pipeline it would wrap around that call left about 3 KB per
  // decision alive past a young-generation collection, which lengthened every GC pause
  // (bench/RESULTS.md, "ioredis auto-pipelining, measured again").
  const single: RedisOptions = { ...common, enableOfflineQueue: false, enableAutoPipelining: false };
  if ("sentinels" in target) return sentinelClient(target, single, options);
  const url = target.url ?? "redis://127.0.0.1:6379";
  if (isUnixSocketUrl(url)) {
    const unix = parseUnixSocketUrl(url);
    // The settings refused a malformed one at start; this is a caller that skipped them.
    if (!unix.ok) throw new Error(`redis: ${unix.problem}`);
    return new Redis({ ...single, ...unix.address });
  }
  // ioredis turns TLS on for rediss:// by itself; only a private CA needs saying.
  return new Redis(url, { ...single, ...(tlsCa !== undefined && isTls(url) ? { tls } : {}) });
}

/** The master named by the sentinels, followed through failovers (see sentinel-failover-watch.ts). */
function sentinelClient(
  target: Extract<RedisTarget, { sentinels: readonly string[] }>,
  single: RedisOptions,
  options: RedisClientOptions,
): Redis {
  const { retryDelayMs, tlsCa } = options;
  const seed = parseSeed(target.sentinels[0]);
  const sentinels = target.sentinels.map((s) => parseSeed(s).address);
  // rediss:// seeds: TLS to the sentinels and to the master they name.
  const tls = seed.tls ? (tlsCa === undefined ? {} : { ca: tlsCa }) : undefined;
  const client = new Redis({
    ...single,
    sentinels,
    name: target.masterName,
    password: target.masterPassword,
    sentinelUsername: seed.credentials.username,
    sentinelPassword: seed.credentials.password,
    ...(tls ? { sentinelTLS: tls, tls, enableTLSForSentinelMode: true } : {}),
    sentinelRetryStrategy: retryDelayMs,
    // A sentinel that accepts the connection but does not answer must not hold up the next one.
    sentinelCommandTimeout: single.connectTimeout,
    // Should a demoted master still be asked, it refuses writes with READONLY: reconnect, which
    // asks the sentinels again. The refused charge is not resent (true, not 2); it fails as
    // transient, like any call caught by a failover.
    reconnectOnError: (error) => error.message.startsWith("READONLY"),
  });
  const watch = watchSentinelFailovers({
    sentinels,
    masterName: target.masterName,
    sentinelOptions: { ...seed.credentials, ...(tls ? { tls } : {}), connectTimeout: single.connectTimeout },
    retryDelayMs,
    onSwitch(master) {
      // Every sentinel announces the switch: move once, and never while a connect is pending
      // (status `connecting`), which ioredis would turn into the end of the client.
      const stream = client.stream;
      const onNewMaster = stream?.remoteAddress === master.host && stream?.remotePort === master.port;
      if ((client.status === "ready" || client.status === "connect") && !onNewMaster) client.disconnect(true);
    },
    onError: options.onError,
  });
  client.once("end", () => watch.close());
  return client;
}

interface Seed {
  readonly address: { host: string; port: number };
  readonly credentials: Pick<RedisOptions, "username" | "password">;
  readonly tls: boolean;
}

/** Address, credentials and TLS of a seed: `host:port` or `rediss://user:pass@host:port`. */
function parseSeed(seed: string | undefined): Seed {
  const url = new URL(/^rediss?:\/\//i.test(seed ?? "") ? (seed ?? "") : `redis://${seed ?? ""}`);
  const credentials: Seed["credentials"] = {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
  const address = { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 6379) };
  return { address, credentials, tls: isTls(url.href) };
}

function isTls(url: string): boolean {
  return /^rediss:\/\//i.test(url);
}
