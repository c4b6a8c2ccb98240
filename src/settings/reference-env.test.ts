import { describe, expect, it } from "vitest";
import { OPTIONS } from "./options.ts";
import { readReferenceEnv } from "./reference-env.ts";
import { REFERENCE_SETTINGS } from "./reference-settings.ts";
import { parseSettings } from "./settings.ts";

const settingsOf = (env: Record<string, string>, argv: string[] = []) => {
  const result = parseSettings(argv, env);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result;
};
const errorsOf = (env: Record<string, string>, argv: string[] = []) => {
  const result = parseSettings(["--policy", "p", ...argv], env);
  return result.ok ? [] : result.errors;
};

describe("envoyproxy/ratelimit's environment", () => {
  it("serves the reference's runtime layout, addresses and Redis with no flag at all", () => {
    const { settings } = settingsOf({
      RUNTIME_ROOT: "/data",
      RUNTIME_SUBDIRECTORY: "ratelimit",
      GRPC_PORT: "9000",
      PORT: "9001",
      REDIS_SOCKET_TYPE: "tcp",
      REDIS_URL: "redis.ns:6379",
    });
    expect(settings.policyPaths).toEqual(["/data/ratelimit/config"]);
    expect(settings.grpcAddr).toEqual({ host: "0.0.0.0", port: 9000 });
    expect(settings.adminAddr).toEqual({ host: "0.0.0.0", port: 9001 });
    expect(settings.redisUrl).toBe("redis://redis.ns:6379");
  });

  it.each<[string, Record<string, string>, string[]]>([
    ["the reference's default root", { RUNTIME_SUBDIRECTORY: "rl" }, ["/srv/runtime_data/current/rl/config"]],
    ["RUNTIME_APPDIRECTORY", { RUNTIME_ROOT: "/d", RUNTIME_APPDIRECTORY: "limits" }, ["/d/limits"]],
    ["SLUICE_POLICY over the layout", { RUNTIME_ROOT: "/d", SLUICE_POLICY: "a.yaml,b" }, ["a.yaml", "b"]],
  ])("finds the policy: %s", (_name, env, paths) => {
    expect(settingsOf(env).settings.policyPaths).toEqual(paths);
  });

  it.each<[string, Record<string, string>, Record<string, unknown>]>([
    [
      "a password and TLS",
      { REDIS_URL: "r:6380", REDIS_AUTH: "p@ss", REDIS_TLS: "true" },
      { redisUrl: "rediss://:p%40ss@r:6380" },
    ],
    ["a user and a password", { REDIS_URL: "r:1", REDIS_AUTH: "u:p:w" }, { redisUrl: "redis://u:p%3Aw@r:1" }],
    ["a URL as it is", { REDIS_URL: "redis://:x@r:1/2" }, { redisUrl: "redis://:x@r:1/2" }],
    [
      "a cluster",
      { REDIS_TYPE: "CLUSTER", REDIS_URL: "a:1,b:2", REDIS_AUTH: "pw" },
      { redisCluster: ["redis://:pw@a:1", "redis://:pw@b:2"] },
    ],
    [
      "a cluster without AUTH",
      { REDIS_TYPE: "cluster", REDIS_URL: "a:1, b:2" },
      { redisCluster: ["a:1", "b:2"] },
    ],
    [
      "a sentinel master",
      {
        REDIS_TYPE: "sentinel",
        REDIS_URL: "mymaster,s1:26379,s2:26379",
        REDIS_AUTH: "mpw",
        REDIS_SENTINEL_AUTH: "spw",
      },
      {
        redisSentinel: {
          nodes: ["redis://:spw@s1:26379", "s2:26379"],
          masterName: "mymaster",
          masterPassword: "mpw",
        },
      },
    ],
    [
      "a unix socket",
      { REDIS_SOCKET_TYPE: "unix", REDIS_URL: "/var/run/r.sock" },
      { redisUrl: "unix:///var/run/r.sock" },
    ],
    [
      "a socket path, the reference's default socket type, with AUTH",
      { REDIS_URL: "/run/redis?1.sock", REDIS_AUTH: "u:p w" },
      { redisUrl: "unix://u:p%20w@/run/redis%3F1.sock" },
    ],
    [
      "a sentinel master over TLS",
      { REDIS_TYPE: "sentinel", REDIS_URL: "m,s1:1,s2:2", REDIS_TLS: "1" },
      {
        redisSentinel: {
          nodes: ["rediss://s1:1", "rediss://s2:2"],
          masterName: "m",
          masterPassword: undefined,
        },
      },
    ],
  ])("reads the Redis: %s", (_name, env, expected) => {
    expect(settingsOf({ RUNTIME_ROOT: "/d", ...env }).settings).toMatchObject(expected);
  });

  it.each<[string, Record<string, string>, string]>([
    [
      "a unix socket for a Cluster",
      { REDIS_SOCKET_TYPE: "unix", REDIS_TYPE: "cluster", REDIS_URL: "/var/run/r.sock" },
      "REDIS_SOCKET_TYPE=unix with REDIS_TYPE=cluster: Sluice reaches a Cluster or Sentinels over TCP only",
    ],
    [
      "TLS on a unix socket",
      { REDIS_SOCKET_TYPE: "unix", REDIS_URL: "/var/run/r.sock", REDIS_TLS: "true" },
      "REDIS_TLS=true with REDIS_SOCKET_TYPE=unix",
    ],
    [
      "a unix socket that is no path",
      { REDIS_SOCKET_TYPE: "unix", REDIS_URL: "redis:6379" },
      "with REDIS_SOCKET_TYPE=unix, expected the socket's absolute path",
    ],
    [
      "a socket path over tcp",
      { REDIS_SOCKET_TYPE: "tcp", REDIS_URL: "/var/run/r.sock" },
      'is a socket path, but REDIS_SOCKET_TYPE is "tcp"',
    ],
    ["memcached", { BACKEND_TYPE: "memcache" }, "BACKEND_TYPE: Sluice keeps counters in Redis only"],
    [
      "an unknown type",
      { REDIS_TYPE: "ring", REDIS_URL: "a:1" },
      'REDIS_TYPE: expected single, cluster or sentinel, got "ring"',
    ],
    [
      "a sentinel without sentinels",
      { REDIS_TYPE: "sentinel", REDIS_URL: "m" },
      "REDIS_URL: with REDIS_TYPE=sentinel",
    ],
    [
      "a sentinel master user",
      { REDIS_TYPE: "sentinel", REDIS_URL: "m,s:1", REDIS_AUTH: "u:p" },
      "password only",
    ],
    ["a port that is none", { GRPC_PORT: "http" }, 'GRPC_PORT: expected a port number, got "http"'],
    [
      "a boolean that is none",
      { SHADOW_MODE: "yes" },
      `--shadow-mode (SLUICE_SHADOW_MODE, or envoyproxy/ratelimit's SHADOW_MODE)`,
    ],
    ["a duration that is none", { REDIS_TIMEOUT: "10" }, "REDIS_TIMEOUT: expected a duration"],
    [
      "a level logrus has not",
      { LOG_LEVEL: "loud" },
      `--log-level (SLUICE_LOG_LEVEL, or envoyproxy/ratelimit's LOG_LEVEL)`,
    ],
    ["a header name that is none", { LIMIT_LIMIT_HEADER: "a b" }, "expected a header name"],
  ])("refuses %s, naming the reference's variable", (_name, env, message) => {
    expect(errorsOf(env).join("\n")).toContain(message);
  });

  it("lets Sluice's own flags and variables win, a Redis or TLS group as a whole", () => {
    const { settings, notices } = settingsOf(
      {
        RUNTIME_ROOT: "/d",
        GRPC_PORT: "9000",
        SLUICE_GRPC_ADDR: "127.0.0.1:1",
        REDIS_URL: "r:1",
        SLUICE_REDIS_CLUSTER: "c:1",
        LOG_LEVEL: "debug",
      },
      ["--log-level", "warn"],
    );
    expect(settings).toMatchObject({
      grpcAddr: { host: "127.0.0.1", port: 1 },
      redisUrl: undefined,
      redisCluster: ["c:1"],
      logLevel: "warn",
    });
    expect(notices.map((n) => [n.level, n.setting])).toEqual([
      ["info", "GRPC_HOST, GRPC_PORT"],
      ["info", "REDIS_URL, REDIS_AUTH, REDIS_TLS, REDIS_SOCKET_TYPE"],
      ["info", "LOG_LEVEL"],
    ]);
  });

  it("reads the rest of what it maps", () => {
    const { settings } = settingsOf({
      RUNTIME_ROOT: "/d",
      HOST: "::1",
      LOG_LEVEL: "WARNING",
      LOG_FORMAT: "JSON",
      NEAR_LIMIT_RATIO: "0.5",
      SHADOW_MODE: "True",
      LOCAL_CACHE_SIZE_IN_BYTES: "1048576",
      REDIS_TIMEOUT: "1m30s",
      REDIS_URL: "r:1",
      REDIS_TLS_CACERT: "/ca.pem",
      GRPC_SERVER_USE_TLS: "t",
      GRPC_SERVER_TLS_CERT: "/c.pem",
      GRPC_SERVER_TLS_KEY: "/k.pem",
      GRPC_CLIENT_TLS_CACERT: "/cca.pem",
      LIMIT_RESPONSE_HEADERS_ENABLED: "true",
      LIMIT_REMAINING_HEADER: "X-Left",
    });
    expect(settings).toMatchObject({
      adminAddr: { host: "::1", port: 8080 },
      logLevel: "warn",
      logFormat: "json",
      nearLimitRatio: 0.5,
      shadowMode: true,
      localCacheSize: 1024,
      storeTimeoutMs: 90_000,
      redisTlsCa: "/ca.pem",
      tls: { certFile: "/c.pem", keyFile: "/k.pem", clientCaFile: "/cca.pem" },
      headerStyle: "envoy-ratelimit",
      headerNames: { limit: "RateLimit-Limit", remaining: "X-Left", reset: "RateLimit-Reset" },
    });
  });

  it.each<[string, string, number]>([
    ["0 turns the cache off", "0", 0],
    ["less than one entry keeps one", "100", 1],
  ])("converts LOCAL_CACHE_SIZE_IN_BYTES: %s", (_name, bytes, entries) => {
    expect(settingsOf({ RUNTIME_ROOT: "/d", LOCAL_CACHE_SIZE_IN_BYTES: bytes }).settings.localCacheSize).toBe(
      entries,
    );
  });

  it("turns headers off with LIMIT_RESPONSE_HEADERS_ENABLED=false, and ignores TLS files without GRPC_SERVER_USE_TLS", () => {
    const { settings } = settingsOf({
      RUNTIME_ROOT: "/d",
      LIMIT_RESPONSE_HEADERS_ENABLED: "false",
      GRPC_SERVER_TLS_CERT: "/c.pem",
    });
    expect([settings.headerStyle, settings.tls]).toEqual(["none", undefined]);
  });

  it("warns about each setting it does not implement, and notes the ones it does not need", () => {
    const { notices } = readReferenceEnv({
      USE_STATSD: "true",
      DEBUG_PORT: "6070",
      QUOTA_MODE: "false",
      CACHE_KEY_PREFIX: "",
      EXPIRATION_JITTER_MAX_SECONDS: "300",
      REDIS_POOL_SIZE: "10",
    });
    expect(notices.map((n) => [n.level, n.setting])).toEqual([
      ["warn", "DEBUG_PORT"],
      ["warn", "USE_STATSD"],
      ["info", "EXPIRATION_JITTER_MAX_SECONDS"],
      ["info", "REDIS_POOL_SIZE"],
    ]);
    expect(notices[0]?.message).toBe(
      "envoyproxy/ratelimit's DEBUG_PORT is set, but Sluice does not implement it: no separate debug listener: /rlconfig and /metrics are on the admin port (PORT); no pprof",
    );
  });
});

describe("the reference settings catalogue", () => {
  it("names each variable once", () => {
    const names = REFERENCE_SETTINGS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it("marks as mapped exactly the variables an option reads", () => {
    const read = new Set(Object.values(OPTIONS).flatMap((o) => ("referenceEnv" in o ? o.referenceEnv : [])));
    const mapped = REFERENCE_SETTINGS.filter((s) => s.kind === "mapped").map((s) => s.name);
    // BACKEND_TYPE maps to no option: redis is the only backend, and anything else is refused.
    expect([...read].sort()).toEqual(mapped.filter((n) => n !== "BACKEND_TYPE").sort());
  });
});
