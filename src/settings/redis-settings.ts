import { isUnixSocketUrl, parseUnixSocketUrl } from "../store/redis-unix-socket.ts";

/** The Redis behind the counters: one server, a Cluster, or a master found through Sentinel. */
export interface RedisStoreSettings {
  readonly redisUrl?: string | undefined;
  /** Cluster seed nodes, each `HOST:PORT` or a `redis://`/`rediss://` URL (see parseSeeds). */
  readonly redisCluster?: readonly string[] | undefined;
  readonly redisSentinel?: RedisSentinelSettings | undefined;
}

export interface RedisSentinelSettings {
  /** Sentinels, each `HOST:PORT` or a URL; the first URL's credentials are the sentinels' own. */
  readonly nodes: readonly string[];
  /** The master's name, as in `sentinel monitor <name> ...`. */
  readonly masterName: string;
  /** AUTH password of the master (and its replicas), when it sets `requirepass`. */
  readonly masterPassword?: string | undefined;
}

/** The raw text of each Redis option, from its flag or its variable. */
export interface RedisOptionsText {
  readonly redisUrl?: string | undefined;
  readonly redisCluster?: string | undefined;
  readonly redisSentinel?: string | undefined;
  readonly redisSentinelMaster?: string | undefined;
  readonly redisSentinelMasterPassword?: string | undefined;
}

type RedisOptionName = keyof RedisOptionsText;

/** Validates the Redis options; every problem is pushed to `errors`, named by `describe`. */
export function parseRedisStore(
  text: RedisOptionsText,
  describe: (name: RedisOptionName) => string,
  errors: string[],
): RedisStoreSettings {
  const { redisUrl } = text;
  if (redisUrl !== undefined) {
    const problem = singleRedisProblem(redisUrl);
    if (problem !== undefined)
      errors.push(`${describe("redisUrl")}: ${problem}, got "${withoutCredentials(redisUrl)}"`);
  }
  const redisCluster = parseSeeds(text.redisCluster, describe("redisCluster"), errors);
  const sentinelNodes = parseSeeds(text.redisSentinel, describe("redisSentinel"), errors);
  const masterName = text.redisSentinelMaster;
  const masterPassword = text.redisSentinelMasterPassword;
  if (sentinelNodes !== undefined && masterName === undefined) {
    errors.push(`${describe("redisSentinel")} needs ${describe("redisSentinelMaster")}`);
  }
  if (masterName !== undefined && !/^[^\s]+$/.test(masterName)) {
    errors.push(`${describe("redisSentinelMaster")}: expected a master name, got "${masterName}"`);
  }
  for (const name of ["redisSentinelMaster", "redisSentinelMasterPassword"] as const) {
    if (sentinelNodes === undefined && text[name] !== undefined) {
      errors.push(`${describe(name)} needs ${describe("redisSentinel")}`);
    }
  }
  const chosen = (["redisUrl", "redisCluster", "redisSentinel"] as const).filter(
    (n) => text[n] !== undefined,
  );
  if (chosen.length > 1) errors.push(`${chosen.map(describe).join(" and ")} are exclusive: set one`);

  return {
    redisUrl,
    redisCluster: redisCluster && Object.freeze(redisCluster),
    redisSentinel:
      sentinelNodes === undefined || masterName === undefined
        ? undefined
        : Object.freeze({ nodes: Object.freeze(sentinelNodes), masterName, masterPassword }),
  };
}

/**
 * A Redis address as an error message may show it: everything before the last `@` (a user and a
 * password, however malformed) replaced by `***`, so a typo in a URL does not put its secret in logs.
 */
export function withoutCredentials(address: string): string {
  return address
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/i, (_match, scheme: string | undefined) => `${scheme ?? ""}***@`)
    .replace(/([?&][^=&#]*password=)[^&#]*/gi, "$1***");
}

/** Why `--redis-url` cannot be used: a TCP URL (redis://, rediss://) or a Unix socket (unix://). */
function singleRedisProblem(url: string): string | undefined {
  if (isUnixSocketUrl(url)) {
    const unix = parseUnixSocketUrl(url);
    return unix.ok ? undefined : unix.problem;
  }
  if (!/^rediss?:\/\/[^\s]+$/.test(url))
    return "expected redis://HOST:PORT, rediss://HOST:PORT or unix:///path/to/redis.sock";
  return urlProblem(url, { database: true });
}

/**
 * Why a Redis URL cannot be used, or undefined when it can. Checked here because ioredis (and
 * parseSeed in redis-client.ts) would otherwise throw on it at start, a TypeError or URIError
 * whose stack prints the URL, password and all: the WHATWG URL parse both use (a port over
 * 65535, a character no host name has), the %-decoding of the user and the password, and the
 * database number ioredis takes from the path and sends as SELECT.
 */
function urlProblem(text: string, { database }: { database: boolean }): string | undefined {
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(text)?.[1] ?? "";
  const port = /:(\d+)$/.exec(authority.slice(authority.lastIndexOf("@") + 1))?.[1];
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65_535))
    return `port ${port} is out of range (1-65535)`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "not a valid URL (check the host name and the port)";
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return "malformed %-escape in the user or password (a literal % is written %25)";
  }
  const path = url.pathname;
  if (path !== "" && path !== "/" && !(database && /^\/\d+$/.test(path)))
    return database ? `database "${path.slice(1)}" is not a number` : "expected no path";
  return undefined;
}

// `?` and `#` are no part of a host name: URL parsing would end the host there and drop the port.
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]@/?#]+):(\d{1,5})$/;
const SEED_URL = /^(rediss?):\/\/(?:[^\s@/]*@)?([^\s@/]+)$/i;

/**
 * A comma-separated list of nodes, each `HOST:PORT` or `redis://[[user]:password@]HOST:PORT`
 * (`rediss://` for TLS). The first seed's credentials and scheme apply to every node ioredis finds
 * from the seeds, so TLS is all or nothing: mixing TLS and plaintext seeds is refused.
 */
function parseSeeds(text: string | undefined, named: string, errors: string[]): string[] | undefined {
  if (text === undefined) return undefined;
  const seeds = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (seeds.length === 0) errors.push(`${named}: expected HOST:PORT,HOST:PORT,...`);
  const schemes = new Set<string>();
  for (const seed of seeds) {
    const url = SEED_URL.exec(seed);
    const hostPort = HOST_PORT.exec(url?.[2] ?? seed);
    const port = Number(hostPort?.[2]);
    const problem =
      hostPort === null || !(port >= 1 && port <= 65_535)
        ? "expected HOST:PORT or redis[s]://[[user]:password@]HOST:PORT"
        : urlProblem(url === null ? `redis://${seed}` : seed, { database: false });
    if (problem !== undefined) errors.push(`${named}: ${problem}, got "${withoutCredentials(seed)}"`);
    schemes.add(url?.[1]?.toLowerCase() === "rediss" ? "TLS (rediss://)" : "plaintext");
  }
  if (schemes.size > 1) errors.push(`${named}: mixes ${[...schemes].join(" and ")} seeds; use one`);
  return seeds;
}
