import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { parseMergeDomainConfig, parseSettings } from "./settings.ts";

describe("parseSettings", () => {
  it("applies defaults: memory store, x-ratelimit headers, the documented addresses", () => {
    const result = parseSettings(["--policy", "p.yaml"], {});
    expect(result).toEqual({
      ok: true,
      settings: {
        policyPaths: ["p.yaml"],
        grpcAddr: { host: "0.0.0.0", port: 8081 },
        adminAddr: { host: "0.0.0.0", port: 9102 },
        redisUrl: undefined,
        redisCluster: undefined,
        headerStyle: "x-ratelimit",
        headerNames: { limit: "RateLimit-Limit", remaining: "RateLimit-Remaining", reset: "RateLimit-Reset" },
        shadowMode: false,
        upstreamHeaders: false,
        shutdownGraceMs: 10_000,
        nearLimitRatio: 0.8,
        requestLimits: {
          maxDescriptors: 64,
          maxEntriesPerDescriptor: 16,
          maxKeyBytes: 256,
          maxValueBytes: 1024,
        },
        maxMessageBytes: 65_536,
        storeTimeoutMs: 5_000,
        storeMaxInFlight: 1024,
        failurePolicy: "unavailable",
        expectedInstances: 1,
        memoryMaxEntries: 250_000,
        localCacheSize: 10_000,
        workers: 1,
        logFormat: "json",
        logLevel: "info",
        mergeDomainConfig: false,
      },
      notices: [],
    });
    expect(Object.isFrozen(result.ok && result.settings)).toBe(true);
  });

  it("reads the log format and level, and refuses ones it does not know", () => {
    const result = parseSettings(["--policy", "p", "--log-format", "text"], { SLUICE_LOG_LEVEL: "debug" });
    expect(result.ok && [result.settings.logFormat, result.settings.logLevel]).toEqual(["text", "debug"]);
    expect(parseSettings(["--policy", "p", "--log-level=verbose"], {})).toEqual({
      ok: false,
      errors: [
        '--log-level (SLUICE_LOG_LEVEL): expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
      ],
    });
  });

  it("reads every option from the environment", () => {
    const result = parseSettings([], {
      SLUICE_POLICY: "a.yaml, dir/",
      SLUICE_GRPC_ADDR: "127.0.0.1:1",
      SLUICE_ADMIN_ADDR: "[::1]:2",
      SLUICE_REDIS_CLUSTER: "127.0.0.1:7000,127.0.0.1:7001",
      SLUICE_HEADER_STYLE: "draft",
      SLUICE_UPSTREAM_HEADERS: "true",
      SLUICE_SHUTDOWN_GRACE_MS: "250",
    });
    expect(result.ok && result.settings).toMatchObject({
      policyPaths: ["a.yaml", "dir/"],
      grpcAddr: { host: "127.0.0.1", port: 1 },
      adminAddr: { host: "::1", port: 2 },
      redisCluster: ["127.0.0.1:7000", "127.0.0.1:7001"],
      headerStyle: "draft",
      upstreamHeaders: true,
      shutdownGraceMs: 250,
    });
  });

  it("reads the request limits from flags and the environment", () => {
    const result = parseSettings(
      [
        "--policy",
        "p",
        "--max-descriptors",
        "8",
        "--max-descriptor-entries=4",
        "--max-message-bytes",
        "4096",
      ],
      { SLUICE_MAX_KEY_BYTES: "32", SLUICE_MAX_VALUE_BYTES: "64" },
    );
    expect(result.ok && result.settings).toMatchObject({
      requestLimits: { maxDescriptors: 8, maxEntriesPerDescriptor: 4, maxKeyBytes: 32, maxValueBytes: 64 },
      maxMessageBytes: 4096,
    });
  });

  it("reads the near-limit ratio from --near-limit-ratio or SLUICE_NEAR_LIMIT_RATIO", () => {
    const fromFlag = parseSettings(["--policy", "p", "--near-limit-ratio", "0.5"], {});
    expect(fromFlag.ok && fromFlag.settings.nearLimitRatio).toBe(0.5);
    const fromEnv = parseSettings(["--policy", "p"], { SLUICE_NEAR_LIMIT_RATIO: "1" });
    expect(fromEnv.ok && fromEnv.settings.nearLimitRatio).toBe(1);
    for (const bad of ["0", "1.5", "-0.2", "most", " "]) {
      expect(parseSettings(["--policy", "p", `--near-limit-ratio=${bad}`], {})).toEqual({
        ok: false,
        errors: [
          `--near-limit-ratio (SLUICE_NEAR_LIMIT_RATIO): expected a number above 0 and at most 1, got "${bad}"`,
        ],
      });
    }
  });

  it("reads the store guard, failure policy and memory bound from flags and the environment", () => {
    const result = parseSettings(
      ["--policy", "p", "--store-timeout-ms", "20", "--failure-policy=local", "--expected-instances", "3"],
      { SLUICE_STORE_MAX_IN_FLIGHT: "64", SLUICE_MEMORY_MAX_ENTRIES: "1000", SLUICE_FAILURE_POLICY: "deny" },
    );
    expect(result.ok && result.settings).toMatchObject({
      storeTimeoutMs: 20,
      storeMaxInFlight: 64,
      failurePolicy: "local",
      expectedInstances: 3,
      memoryMaxEntries: 1000,
    });
  });

  it("reads TLS files, mutual when a client CA is given", () => {
    const result = parseSettings(
      ["--policy", "p", "--tls-cert", "s.crt", "--tls-key", "s.key", "--tls-reload-interval-ms", "250"],
      { SLUICE_TLS_CLIENT_CA: "ca.crt" },
    );
    expect(result.ok && result.settings.tls).toEqual({
      certFile: "s.crt",
      keyFile: "s.key",
      clientCaFile: "ca.crt",
      reloadIntervalMs: 250,
    });
    const plain = parseSettings(["--policy", "p"], {});
    expect(plain.ok && plain.settings.tls).toBeUndefined();
  });

  it("lets flags win over the environment and repeats --policy", () => {
    const result = parseSettings(
      ["--policy", "a.yaml", "--policy=b.yaml", "--redis-url", "rediss://:pw@h:6380/0"],
      { SLUICE_POLICY: "env.yaml", SLUICE_REDIS_URL: "redis://other:1" },
    );
    expect(result.ok && result.settings).toMatchObject({
      policyPaths: ["a.yaml", "b.yaml"],
      redisUrl: "rediss://:pw@h:6380/0",
    });
  });

  it.each([
    [
      [],
      {},
      "--policy (or SLUICE_POLICY, or envoyproxy/ratelimit's RUNTIME_ROOT, RUNTIME_SUBDIRECTORY and RUNTIME_APPDIRECTORY) is required",
    ],
    [
      ["--policy", "p", "--grpc-addr", "nonsense"],
      {},
      '--grpc-addr (SLUICE_GRPC_ADDR): expected HOST:PORT, got "nonsense"',
    ],
    [
      ["--policy", "p"],
      { SLUICE_ADMIN_ADDR: "h:70000" },
      '--admin-addr (SLUICE_ADMIN_ADDR): expected HOST:PORT, got "h:70000"',
    ],
    [
      ["--policy", "p", "--redis-url", "http://x"],
      {},
      "--redis-url (SLUICE_REDIS_URL): expected redis://HOST:PORT",
    ],
    [
      ["--policy", "p", "--header-style", "loud"],
      {},
      '--header-style (SLUICE_HEADER_STYLE): expected one of x-ratelimit, draft, envoy-ratelimit, none, got "loud"',
    ],
    [
      ["--policy", "p", "--upstream-headers", "maybe"],
      {},
      "--upstream-headers (SLUICE_UPSTREAM_HEADERS): expected true or false",
    ],
    [["--policy", "p", "--bogus"], {}, 'unknown argument "--bogus"'],
    [["--policy"], {}, "--policy needs a value"],
    [["--policy", "p", "--grpc-addr", "h:1", "--grpc-addr", "h:2"], {}, "--grpc-addr given more than once"],
    [["--policy", "p", "--redis-url", "redis://h:1", "--redis-cluster", "h:2"], {}, "are exclusive"],
    [
      ["--policy", "p", "--max-descriptors", "0"],
      {},
      '--max-descriptors (SLUICE_MAX_DESCRIPTORS): expected a whole number of at least 1, got "0"',
    ],
    [["--policy", "p"], { SLUICE_MAX_VALUE_BYTES: "1k" }, "--max-value-bytes (SLUICE_MAX_VALUE_BYTES)"],
    [
      ["--policy", "p", "--failure-policy", "maybe"],
      {},
      '--failure-policy (SLUICE_FAILURE_POLICY): expected one of unavailable, allow, deny, local, got "maybe"',
    ],
    [["--policy", "p", "--store-timeout-ms", "0"], {}, "--store-timeout-ms (SLUICE_STORE_TIMEOUT_MS)"],
    [
      ["--policy", "p", "--expected-instances", "two"],
      {},
      "--expected-instances (SLUICE_EXPECTED_INSTANCES)",
    ],
    [
      ["--policy", "p", "--tls-cert", "s.crt"],
      {},
      "--tls-cert (SLUICE_TLS_CERT) and --tls-key (SLUICE_TLS_KEY) go together",
    ],
    [
      ["--policy", "p", "--tls-client-ca", "ca.crt"],
      {},
      "--tls-client-ca (SLUICE_TLS_CLIENT_CA) needs --tls-cert and --tls-key",
    ],
  ])("rejects %j %j naming the setting", (argv, env, message) => {
    const result = parseSettings(argv, env);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors.join("\n")).toContain(message);
  });
});

describe("parseSettings: local over-limit cache and workers", () => {
  it("reads --local-cache-size (0 turns the cache off)", () => {
    const off = parseSettings(["--policy", "p", "--local-cache-size", "0"], {});
    expect(off.ok && off.settings.localCacheSize).toBe(0);
    const fromEnv = parseSettings(["--policy", "p"], { SLUICE_LOCAL_CACHE_SIZE: "5" });
    expect(fromEnv.ok && fromEnv.settings.localCacheSize).toBe(5);
    expect(parseSettings(["--policy", "p", "--local-cache-size", "-1"], {}).ok).toBe(false);
  });

  it("runs one worker per core with Redis, one with the memory store", () => {
    const redis = parseSettings(["--policy", "p", "--redis-url", "redis://h:1"], {});
    expect(redis.ok && redis.settings.workers).toBe(availableParallelism());
    const memory = parseSettings(["--policy", "p"], {});
    expect(memory.ok && memory.settings.workers).toBe(1);
    const chosen = parseSettings(["--policy", "p", "--redis-cluster", "h:1", "--workers", "3"], {});
    expect(chosen.ok && chosen.settings.workers).toBe(3);
  });

  it("refuses several workers on the memory store, whose counters are per process", () => {
    const result = parseSettings(["--policy", "p"], { SLUICE_WORKERS: "2" });
    expect(result.ok ? [] : result.errors).toEqual([
      expect.stringContaining(
        "--workers (SLUICE_WORKERS): 2 workers need --redis-url, --redis-cluster or --redis-sentinel",
      ),
    ]);
    expect(parseSettings(["--policy", "p", "--workers", "0"], {}).ok).toBe(false);
  });
});

describe("merging files of one domain (envoyproxy/ratelimit's MERGE_DOMAIN_CONFIG)", () => {
  const merge = (argv: string[], env: Record<string, string>) => {
    const result = parseSettings(["--policy", "p", ...argv], env);
    return result.ok ? result.settings.mergeDomainConfig : result.errors;
  };

  it.each<[string, string[], Record<string, string>, boolean]>([
    ["off by default", [], {}, false],
    ["the flag", ["--merge-domain-config", "true"], {}, true],
    ["Sluice's variable", [], { SLUICE_MERGE_DOMAIN_CONFIG: "true" }, true],
    ["the reference's variable", [], { MERGE_DOMAIN_CONFIG: "true" }, true],
    ["the reference's variable in Go's ParseBool spelling", [], { MERGE_DOMAIN_CONFIG: "True" }, true],
    [
      "Sluice's variable over the reference's",
      [],
      { SLUICE_MERGE_DOMAIN_CONFIG: "false", MERGE_DOMAIN_CONFIG: "1" },
      false,
    ],
    ["the flag over both", ["--merge-domain-config", "false"], { MERGE_DOMAIN_CONFIG: "true" }, false],
  ])("%s", (_name, argv, env, expected) => {
    expect(merge(argv, env)).toBe(expected);
  });

  it("refuses a value that is not a boolean, naming all three spellings", () => {
    expect(merge([], { MERGE_DOMAIN_CONFIG: "yes please" })).toEqual([
      `--merge-domain-config (SLUICE_MERGE_DOMAIN_CONFIG, or envoyproxy/ratelimit's MERGE_DOMAIN_CONFIG): expected true or false, got "yes please"`,
    ]);
  });

  it("is read the same way for sluice check", () => {
    expect(parseMergeDomainConfig(undefined, { MERGE_DOMAIN_CONFIG: "t" })).toEqual({
      ok: true,
      value: true,
    });
    expect(parseMergeDomainConfig("false", { MERGE_DOMAIN_CONFIG: "t" })).toEqual({ ok: true, value: false });
    expect(parseMergeDomainConfig(undefined, {})).toEqual({ ok: true, value: false });
  });
});
