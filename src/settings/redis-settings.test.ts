import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { parseSettings } from "./settings.ts";

const errorsOf = (argv: string[], env: Record<string, string> = {}): string[] => {
  const result = parseSettings(["--policy", "p", ...argv], env);
  return result.ok ? [] : [...result.errors];
};

describe("parseSettings: Redis Sentinel", () => {
  it("reads the sentinels, the master's name and its password from flags", () => {
    const result = parseSettings(
      ["--policy", "p", "--redis-sentinel", "10.0.0.1:26379, 10.0.0.2:26379", "--redis-sentinel-master=main"],
      { SLUICE_REDIS_SENTINEL_MASTER_PASSWORD: "pw" },
    );
    expect(result.ok && result.settings.redisSentinel).toEqual({
      nodes: ["10.0.0.1:26379", "10.0.0.2:26379"],
      masterName: "main",
      masterPassword: "pw",
    });
    expect(result.ok && Object.isFrozen(result.settings.redisSentinel?.nodes)).toBe(true);
  });

  it("reads them from the environment, sentinel credentials and TLS in seed URLs", () => {
    const result = parseSettings(["--policy", "p"], {
      SLUICE_REDIS_SENTINEL: "rediss://:s3cret@[::1]:26379,rediss://h:26380",
      SLUICE_REDIS_SENTINEL_MASTER: "main",
    });
    expect(result.ok && result.settings.redisSentinel).toEqual({
      nodes: ["rediss://:s3cret@[::1]:26379", "rediss://h:26380"],
      masterName: "main",
      masterPassword: undefined,
    });
  });

  it("counts as a shared store: one worker per core by default, --workers allowed", () => {
    const sentinel = ["--redis-sentinel", "h:26379", "--redis-sentinel-master", "m"];
    const byDefault = parseSettings(["--policy", "p", ...sentinel], {});
    expect(byDefault.ok && byDefault.settings.workers).toBe(availableParallelism());
    const chosen = parseSettings(["--policy", "p", ...sentinel, "--workers", "4"], {});
    expect(chosen.ok && chosen.settings.workers).toBe(4);
  });

  it.each([
    [
      ["--redis-sentinel", "h:26379"],
      "--redis-sentinel (SLUICE_REDIS_SENTINEL) needs --redis-sentinel-master (SLUICE_REDIS_SENTINEL_MASTER)",
    ],
    [
      ["--redis-sentinel-master", "m"],
      "--redis-sentinel-master (SLUICE_REDIS_SENTINEL_MASTER) needs --redis-sentinel (SLUICE_REDIS_SENTINEL)",
    ],
    [
      ["--redis-url", "redis://h:1", "--redis-sentinel-master-password", "pw"],
      "--redis-sentinel-master-password (SLUICE_REDIS_SENTINEL_MASTER_PASSWORD) needs --redis-sentinel",
    ],
    [
      ["--redis-sentinel", "h", "--redis-sentinel-master", "m"],
      '--redis-sentinel (SLUICE_REDIS_SENTINEL): expected HOST:PORT or redis[s]://[[user]:password@]HOST:PORT, got "h"',
    ],
    [["--redis-sentinel", "h:26379,h:0", "--redis-sentinel-master", "m"], 'got "h:0"'],
    [["--redis-sentinel", "http://h:26379", "--redis-sentinel-master", "m"], 'got "http://h:26379"'],
    [
      ["--redis-sentinel", ",", "--redis-sentinel-master", "m"],
      "--redis-sentinel (SLUICE_REDIS_SENTINEL): expected HOST:PORT,HOST:PORT,...",
    ],
    [
      ["--redis-sentinel", "h:1", "--redis-sentinel-master", "my master"],
      '--redis-sentinel-master (SLUICE_REDIS_SENTINEL_MASTER): expected a master name, got "my master"',
    ],
    [
      ["--redis-sentinel", "rediss://h:1,h:2", "--redis-sentinel-master", "m"],
      "--redis-sentinel (SLUICE_REDIS_SENTINEL): mixes TLS (rediss://) and plaintext seeds; use one",
    ],
    [
      ["--redis-sentinel", "h:1", "--redis-sentinel-master", "m", "--redis-url", "redis://h:2"],
      "--redis-url (SLUICE_REDIS_URL) and --redis-sentinel (SLUICE_REDIS_SENTINEL) are exclusive: set one",
    ],
    [
      ["--redis-sentinel", "h:1", "--redis-sentinel-master", "m", "--redis-cluster", "h:2"],
      "--redis-cluster (SLUICE_REDIS_CLUSTER) and --redis-sentinel (SLUICE_REDIS_SENTINEL) are exclusive",
    ],
  ])("rejects %j naming the flag", (argv, message) => {
    expect(errorsOf(argv).join("\n")).toContain(message);
  });
});

describe("parseSettings: Redis Cluster seeds", () => {
  it("takes HOST:PORT seeds, or redis:// and rediss:// URLs with credentials", () => {
    for (const seeds of [
      ["127.0.0.1:7000", "[::1]:7001"],
      ["rediss://127.0.0.1:7000", "rediss://u:p@127.0.0.1:7001"],
      ["redis://:p@h:7000"],
    ]) {
      const result = parseSettings(["--policy", "p", "--redis-cluster", seeds.join(",")], {});
      expect(result.ok && result.settings.redisCluster).toEqual(seeds);
    }
  });

  it.each([
    ["h", "--redis-cluster (SLUICE_REDIS_CLUSTER): expected HOST:PORT or redis[s]://"],
    ["rediss://h:7000/0", 'got "rediss://h:7000/0"'],
    ["rediss://h:7000,redis://h:7001", "mixes TLS (rediss://) and plaintext seeds"],
    ["h:7000,rediss://h:7001", "mixes plaintext and TLS (rediss://) seeds"],
  ])("rejects %j naming the flag", (seeds, message) => {
    expect(errorsOf(["--redis-cluster", seeds]).join("\n")).toContain(message);
  });
});

describe("parseSettings: Redis passwords stay out of error messages", () => {
  it.each([
    [["--redis-url", "redis://user:s3cret@h:1 x"], 'got "redis://***@h:1 x"'],
    [["--redis-cluster", "rediss://u:s3cret@h:7000/0"], 'got "rediss://***@h:7000/0"'],
    [["--redis-cluster", "redis://u:s3c@ret@h"], 'got "redis://***@h"'],
    [["--redis-cluster", "s3cret@h"], 'got "***@h"'],
    [["--redis-sentinel", "redis://:s3cret@h", "--redis-sentinel-master", "m"], 'got "redis://***@h"'],
    [["--redis-url", "redis://h:6379/x?db=1&password=s3cret"], 'got "redis://h:6379/x?db=1&password=***"'],
    [["--redis-url", "unix://u:s3cret@/run/r.sock?db=x"], 'got "unix://***@/run/r.sock?db=x"'],
  ])("%j", (argv, shown) => {
    const message = errorsOf(argv).join("\n");
    expect(message).toContain(shown);
    expect(message).not.toContain("s3c");
  });
});

describe("parseSettings: Redis URLs ioredis could not use are settings errors, not crashes", () => {
  it.each([
    ["--redis-url", "redis://:pw@h:99999", 'port 99999 is out of range (1-65535), got "redis://***@h:99999"'],
    ["--redis-url", "redis://h:0", "port 0 is out of range (1-65535)"],
    ["--redis-url", "redis://:pw@h:6379/abc", 'database "abc" is not a number'],
    ["--redis-url", "redis://h^x:6379", "not a valid URL (check the host name and the port)"],
    ["--redis-url", "redis://:pw%zz@h:6379", "malformed %-escape in the user or password"],
    ["--redis-url", "redis://u%e0:pw@h:6379", "malformed %-escape in the user or password"],
    ["--redis-cluster", "redis://:pw%zz@h:7000", "malformed %-escape"],
    ["--redis-cluster", "h<x:7000", 'not a valid URL (check the host name and the port), got "h<x:7000"'],
    ["--redis-cluster", "h#x:7000", "expected HOST:PORT or redis[s]://"],
    ["--redis-sentinel", "h:26379,redis://:pw%zz@h:26380", "malformed %-escape"],
    ["--redis-url", "unix://run/redis.sock", "expected an absolute socket path after unix://"],
    ["--redis-url", "unix:///run/redis.sock?db=x", 'database "x" is not a number'],
    ["--redis-url", "unix:///run/redis.sock?timeout=1", 'unknown parameter "timeout"'],
    ["--redis-url", `unix:///${"s".repeat(120)}.sock`, "longer than 107 bytes"],
    ["--redis-url", "unix://:pw%zz@/run/redis.sock", "malformed %-escape"],
    [
      "--redis-url",
      "http://h:6379",
      "expected redis://HOST:PORT, rediss://HOST:PORT or unix:///path/to/redis.sock",
    ],
  ])("%s %j", (flag, address, message) => {
    const sentinel = flag === "--redis-sentinel" ? ["--redis-sentinel-master", "m"] : [];
    const errors = errorsOf([flag, address, ...sentinel]);
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^${flag} \\(SLUICE_[A-Z_]+\\): `))]);
    expect(errors[0]).toContain(message);
  });

  it.each([
    "redis://h:6379",
    "redis://h:6379/",
    "redis://h:6379/15",
    "rediss://u%40x:p%25w@[::1]:6380/2",
    "redis://h",
    "unix:///run/redis/redis.sock",
    "unix://:p%40ss@/run/redis.sock?db=3",
    "UNIX://user:pw@/tmp/r.sock",
  ])("takes %j", (address) => {
    expect(errorsOf(["--redis-url", address])).toEqual([]);
  });
});
