import { Cluster, Redis, type RedisOptions } from "ioredis";

/**
 * Where the counters live: one Redis (`redis://`, `rediss://`, passwords in the URL), a Cluster, or
 * the master a set of Sentinels names. Seeds (Cluster nodes, sentinels) are `host:port` or URLs;
 * the first seed's scheme and credentials apply to every node found from them.
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
}

/** The ioredis client for a target; it connects at once and reconnects by itself. */
export function createRedisClient(target: RedisTarget, options: RedisClientOptions): Redis | Cluster {
  const { common, retryDelayMs, tlsCa } = options;
  const tls = tlsCa === undefined ? {} : { ca: tlsCa };
  if ("clusterNodes" in target) {
    const seed = parseSeed(target.clusterNodes[0]);
    return new Cluster([...target.clusterNodes], {
      // Fail fast while no node is reachable instead of queueing requests without bound.
      enableOfflineQueue: false,
      clusterRetryStrategy: retryDelayMs,
      // Nodes learnt from CLUSTER SLOTS get the credentials and TLS of the first seed.
      redisOptions: { ...common, ...seed.credentials, ...(seed.tls ? { tls } : {}) },
    });
  }
  // Charges issued in one event-loop turn go out as one pipeline (one socket write, one read)
  // instead of a write system call each: under load, most of a charge's cost here. Each EVALSHA is
  // still its own atomic script; only the transport is shared. Not on a Cluster, where ioredis
  // refuses pipelines whose scripts' keys span slot groups.
  const single: RedisOptions = { ...common, enableOfflineQueue: false, enableAutoPipelining: true };
  if ("sentinels" in target) {
    const seed = parseSeed(target.sentinels[0]);
    return new Redis({
      ...single,
      sentinels: target.sentinels.map((s) => parseSeed(s).address),
      name: target.masterName,
      password: target.masterPassword,
      sentinelUsername: seed.credentials.username,
      sentinelPassword: seed.credentials.password,
      // rediss:// seeds: TLS to the sentinels and to the master they name.
      ...(seed.tls ? { sentinelTLS: tls, tls, enableTLSForSentinelMode: true } : {}),
      sentinelRetryStrategy: retryDelayMs,
      // A sentinel that accepts the connection but does not answer must not hold up the next one.
      sentinelCommandTimeout: common.connectTimeout,
      // A failover with the old master still up (asked for, or a partition) does not close our
      // connection: the old master keeps accepting charges until the sentinels demote it, seconds
      // later, and those are lost. Listening for +switch-master on the sentinels drops it at once.
      failoverDetector: true,
      // Should a demoted master still be asked, it refuses writes with READONLY: reconnect, which
      // asks the sentinels again. The refused charge is not resent (true, not 2); it fails as
      // transient, like any call caught by a failover.
      reconnectOnError: (error) => error.message.startsWith("READONLY"),
    });
  }
  const url = target.url ?? "redis://127.0.0.1:6379";
  // ioredis turns TLS on for rediss:// by itself; only a private CA needs saying.
  return new Redis(url, { ...single, ...(tlsCa !== undefined && isTls(url) ? { tls } : {}) });
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
