import type { HeaderStyle } from "../limiter/limiter-types.ts";
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_REQUEST_LIMITS } from "../limiter/request-limits.ts";
import { LOG_FORMATS, LOG_LEVELS } from "../log/logger.ts";
import { FAILURE_POLICIES } from "../policy/failure-policy.ts";
import { DEFAULT_MAX_COUNTERS } from "../store/memory-counter-store.ts";

/**
 * The option table of `sluice serve`: each setting's flag, its variable, its default and its help.
 * `sluice serve --help` (serve-help.ts) and docs/cli.md are generated from it; settings.ts parses it.
 */
/**
 * A cap for calls without a deadline, in ms. It is deliberately not stricter than any caller's own
 * deadline: a fixed short budget turned bursts into store timeouts, i.e. into UNAVAILABLE answers that
 * Envoy fails open on, exactly when traffic peaks. Envoy's `timeout` (20 ms unless set) is what bounds
 * a decision in production.
 */
export const DEFAULT_STORE_TIMEOUT_MS = 5_000;

/** Over-limit calls cached by default: a few MiB at most, and far more refused clients than one instance sees. */
export const DEFAULT_LOCAL_CACHE_SIZE = 10_000;

export const HEADER_STYLES: readonly HeaderStyle[] = ["x-ratelimit", "draft", "envoy-ratelimit", "none"];

/**
 * One option: its flag, its environment variable, whether the flag may repeat, and (`referenceEnv`)
 * envoyproxy/ratelimit's variables that set it, read after Sluice's so a drop-in keeps its env
 * (translated by reference-env.ts, which names the same variables).
 */
export interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly repeat: boolean;
  readonly referenceEnv?: readonly string[];
  /** What the value looks like in help: `HOST:PORT`, `N`, the choices. */
  readonly value: string;
  /** The value used when neither the flag nor the environment sets one. */
  readonly default?: string;
  /** How help states a default that is not one value (computed, or required). */
  readonly defaultText?: string;
  /** What the option does, for `sluice serve --help` (serve-help.ts). */
  readonly help: string;
}

export const OPTIONS = {
  policy: {
    flag: "--policy",
    env: "SLUICE_POLICY",
    referenceEnv: ["RUNTIME_ROOT", "RUNTIME_SUBDIRECTORY", "RUNTIME_APPDIRECTORY"],
    repeat: true,
    value: "PATH",
    defaultText: "required",
    help: "YAML policy file, or directory of *.yaml/*.yml files; repeat the flag (commas in the environment)",
  },
  grpcAddr: {
    flag: "--grpc-addr",
    env: "SLUICE_GRPC_ADDR",
    referenceEnv: ["GRPC_HOST", "GRPC_PORT"],
    repeat: false,
    value: "HOST:PORT",
    default: "0.0.0.0:8081",
    help: "where RateLimitService, grpc.health.v1 and reflection are served",
  },
  adminAddr: {
    flag: "--admin-addr",
    env: "SLUICE_ADMIN_ADDR",
    referenceEnv: ["HOST", "PORT"],
    repeat: false,
    value: "HOST:PORT",
    default: "0.0.0.0:9102",
    help: "where the admin HTTP endpoints /healthz, /readyz and /metrics are served",
  },
  redisUrl: {
    flag: "--redis-url",
    env: "SLUICE_REDIS_URL",
    referenceEnv: ["REDIS_URL", "REDIS_AUTH", "REDIS_TLS", "REDIS_SOCKET_TYPE"],
    repeat: false,
    value: "URL",
    help: "one Redis, redis://[[user]:password@]host:port[/db] (rediss:// for TLS) or unix://[[user]:password@]/socket/path[?db=N]; unset: counters in memory",
  },
  redisCluster: {
    flag: "--redis-cluster",
    env: "SLUICE_REDIS_CLUSTER",
    referenceEnv: ["REDIS_TYPE", "REDIS_URL", "REDIS_AUTH", "REDIS_TLS"],
    repeat: false,
    value: "HOST:PORT,...",
    help: "Redis Cluster seed nodes, HOST:PORT or redis[s]:// URLs carrying AUTH",
  },
  redisSentinel: {
    flag: "--redis-sentinel",
    env: "SLUICE_REDIS_SENTINEL",
    referenceEnv: ["REDIS_TYPE", "REDIS_URL", "REDIS_SENTINEL_AUTH", "REDIS_TLS"],
    repeat: false,
    value: "HOST:PORT,...",
    help: "Redis Sentinels, HOST:PORT or URLs (the first URL's password is the sentinels' own)",
  },
  redisSentinelMaster: {
    flag: "--redis-sentinel-master",
    env: "SLUICE_REDIS_SENTINEL_MASTER",
    referenceEnv: ["REDIS_URL"],
    repeat: false,
    value: "NAME",
    help: "the master's name in `sentinel monitor`; required with --redis-sentinel",
  },
  redisSentinelMasterPassword: {
    flag: "--redis-sentinel-master-password",
    env: "SLUICE_REDIS_SENTINEL_MASTER_PASSWORD",
    referenceEnv: ["REDIS_AUTH"],
    repeat: false,
    value: "PASSWORD",
    help: "AUTH password of the master Sentinel finds and its replicas",
  },
  headerStyle: {
    flag: "--header-style",
    env: "SLUICE_HEADER_STYLE",
    referenceEnv: ["LIMIT_RESPONSE_HEADERS_ENABLED"],
    repeat: false,
    value: HEADER_STYLES.join("|"),
    default: "x-ratelimit",
    help: "headers Envoy adds to answers: x-ratelimit, IETF draft (RateLimit, RateLimit-Policy), envoy-ratelimit (envoyproxy/ratelimit's three, named by --limit-header, --remaining-header, --reset-header; reset in seconds) or none",
  },
  limitHeader: {
    flag: "--limit-header",
    env: "SLUICE_LIMIT_HEADER",
    referenceEnv: ["LIMIT_LIMIT_HEADER"],
    repeat: false,
    value: "NAME",
    default: "RateLimit-Limit",
    help: "the envoy-ratelimit header style's header for the binding limit",
  },
  remainingHeader: {
    flag: "--remaining-header",
    env: "SLUICE_REMAINING_HEADER",
    referenceEnv: ["LIMIT_REMAINING_HEADER"],
    repeat: false,
    value: "NAME",
    default: "RateLimit-Remaining",
    help: "the envoy-ratelimit header style's header for the hits left",
  },
  resetHeader: {
    flag: "--reset-header",
    env: "SLUICE_RESET_HEADER",
    referenceEnv: ["LIMIT_RESET_HEADER"],
    repeat: false,
    value: "NAME",
    default: "RateLimit-Reset",
    help: "the envoy-ratelimit header style's header for the seconds until the window resets",
  },
  upstreamHeaders: {
    flag: "--upstream-headers",
    env: "SLUICE_UPSTREAM_HEADERS",
    repeat: false,
    value: "true|false",
    default: "false",
    help: "also pass the rate-limit figures to the upstream as request headers on OK",
  },
  shutdownGrace: {
    flag: "--shutdown-grace-ms",
    env: "SLUICE_SHUTDOWN_GRACE_MS",
    repeat: false,
    value: "MS",
    default: "10000",
    help: "how long SIGTERM waits for in-flight calls before closing anyway",
  },
  nearLimitRatio: {
    flag: "--near-limit-ratio",
    env: "SLUICE_NEAR_LIMIT_RATIO",
    referenceEnv: ["NEAR_LIMIT_RATIO"],
    repeat: false,
    value: "RATIO",
    default: "0.8",
    help: "share of a window used (0 < RATIO <= 1) from which a passing call counts as near the limit (metrics)",
  },
  maxDescriptors: {
    flag: "--max-descriptors",
    env: "SLUICE_MAX_DESCRIPTORS",
    repeat: false,
    value: "N",
    default: String(DEFAULT_REQUEST_LIMITS.maxDescriptors),
    help: "descriptors one call may carry; more is answered INVALID_ARGUMENT",
  },
  maxEntries: {
    flag: "--max-descriptor-entries",
    env: "SLUICE_MAX_DESCRIPTOR_ENTRIES",
    repeat: false,
    value: "N",
    default: String(DEFAULT_REQUEST_LIMITS.maxEntriesPerDescriptor),
    help: "entries one descriptor may carry; more is answered INVALID_ARGUMENT",
  },
  maxKeyBytes: {
    flag: "--max-key-bytes",
    env: "SLUICE_MAX_KEY_BYTES",
    repeat: false,
    value: "BYTES",
    default: String(DEFAULT_REQUEST_LIMITS.maxKeyBytes),
    help: "longest entry key, and domain; longer is answered INVALID_ARGUMENT",
  },
  maxValueBytes: {
    flag: "--max-value-bytes",
    env: "SLUICE_MAX_VALUE_BYTES",
    repeat: false,
    value: "BYTES",
    default: String(DEFAULT_REQUEST_LIMITS.maxValueBytes),
    help: "longest entry value; longer is answered INVALID_ARGUMENT",
  },
  maxMessageBytes: {
    flag: "--max-message-bytes",
    env: "SLUICE_MAX_MESSAGE_BYTES",
    repeat: false,
    value: "BYTES",
    default: String(DEFAULT_MAX_MESSAGE_BYTES),
    help: "largest encoded request; larger is answered INVALID_ARGUMENT before decoding",
  },
  storeTimeout: {
    flag: "--store-timeout-ms",
    env: "SLUICE_STORE_TIMEOUT_MS",
    referenceEnv: ["REDIS_TIMEOUT"],
    repeat: false,
    value: "MS",
    default: String(DEFAULT_STORE_TIMEOUT_MS),
    help: "longest wait for one store call; a call's own gRPC deadline (Envoy's timeout) shortens it",
  },
  storeMaxInFlight: {
    flag: "--store-max-in-flight",
    env: "SLUICE_STORE_MAX_IN_FLIGHT",
    repeat: false,
    value: "N",
    default: "1024",
    help: "store calls outstanding at once; calls beyond are answered per the failure policy",
  },
  failurePolicy: {
    flag: "--failure-policy",
    env: "SLUICE_FAILURE_POLICY",
    repeat: false,
    value: FAILURE_POLICIES.join("|"),
    default: "unavailable",
    help: "the answer when the store cannot be asked, unless a domain's policy sets its own",
  },
  expectedInstances: {
    flag: "--expected-instances",
    env: "SLUICE_EXPECTED_INSTANCES",
    repeat: false,
    value: "N",
    default: "1",
    help: "Sluice instances sharing the limits; the local failure policy admits limit / N each",
  },
  memoryMaxEntries: {
    flag: "--memory-max-entries",
    env: "SLUICE_MEMORY_MAX_ENTRIES",
    repeat: false,
    value: "N",
    default: String(DEFAULT_MAX_COUNTERS),
    help: "counters the in-memory store keeps before evicting the least recently used",
  },
  redisTlsCa: {
    flag: "--redis-tls-ca",
    env: "SLUICE_REDIS_TLS_CA",
    referenceEnv: ["REDIS_TLS_CACERT"],
    repeat: false,
    value: "FILE",
    help: "CA bundle (PEM) a rediss:// server's certificate must chain to; unset: the system's CAs",
  },
  tlsCert: {
    flag: "--tls-cert",
    env: "SLUICE_TLS_CERT",
    referenceEnv: ["GRPC_SERVER_USE_TLS", "GRPC_SERVER_TLS_CERT"],
    repeat: false,
    value: "FILE",
    help: "certificate chain (PEM) for TLS on the gRPC port; needs --tls-key",
  },
  tlsKey: {
    flag: "--tls-key",
    env: "SLUICE_TLS_KEY",
    referenceEnv: ["GRPC_SERVER_TLS_KEY"],
    repeat: false,
    value: "FILE",
    help: "private key (PEM) of --tls-cert",
  },
  tlsClientCa: {
    flag: "--tls-client-ca",
    env: "SLUICE_TLS_CLIENT_CA",
    referenceEnv: ["GRPC_CLIENT_TLS_CACERT"],
    repeat: false,
    value: "FILE",
    help: "CA bundle (PEM) client certificates must chain to: mutual TLS",
  },
  tlsReload: {
    flag: "--tls-reload-interval-ms",
    env: "SLUICE_TLS_RELOAD_INTERVAL_MS",
    repeat: false,
    value: "MS",
    default: "5000",
    help: "how often the TLS files are re-read, so rotated certificates are picked up",
  },
  localCacheSize: {
    flag: "--local-cache-size",
    env: "SLUICE_LOCAL_CACHE_SIZE",
    referenceEnv: ["LOCAL_CACHE_SIZE_IN_BYTES"],
    repeat: false,
    value: "N",
    default: String(DEFAULT_LOCAL_CACHE_SIZE),
    help: "over-limit calls answered locally until their retry time; 0 turns the cache off (LOCAL_CACHE_SIZE_IN_BYTES is divided by 1024, about what a call of two descriptors takes)",
  },
  logFormat: {
    flag: "--log-format",
    env: "SLUICE_LOG_FORMAT",
    referenceEnv: ["LOG_FORMAT"],
    repeat: false,
    value: LOG_FORMATS.join("|"),
    default: "json",
    help: "json: one JSON record per line on stdout, for log collectors (plus one readable startup line on stderr); text: readable lines on stdout",
  },
  logLevel: {
    flag: "--log-level",
    env: "SLUICE_LOG_LEVEL",
    referenceEnv: ["LOG_LEVEL"],
    repeat: false,
    value: LOG_LEVELS.join("|"),
    default: "info",
    help: "least severe log records written; info logs starts, reloads, store state changes and errors, never one line per call",
  },
  workers: {
    flag: "--workers",
    env: "SLUICE_WORKERS",
    repeat: false,
    value: "N",
    defaultText: "default one per core with Redis, else 1",
    help: "processes serving the one gRPC port; more than 1 needs a Redis store",
  },
  mergeDomainConfig: {
    flag: "--merge-domain-config",
    env: "SLUICE_MERGE_DOMAIN_CONFIG",
    referenceEnv: ["MERGE_DOMAIN_CONFIG"],
    repeat: false,
    value: "true|false",
    default: "false",
    help: "merge policy files that name one domain (envoyproxy/ratelimit's MERGE_DOMAIN_CONFIG) instead of refusing them",
  },
  shadowMode: {
    flag: "--shadow-mode",
    env: "SLUICE_SHADOW_MODE",
    referenceEnv: ["SHADOW_MODE"],
    repeat: false,
    value: "true|false",
    default: "false",
    help: "answer every call OK while counting and reporting as usual: a refusal is only counted (sluice_global_shadow_total)",
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** How an error names an option: its flag and its variable, `--grpc-addr (SLUICE_GRPC_ADDR)`. */
export function describeOption(name: OptionName): string {
  const option: OptionSpec = OPTIONS[name];
  return `${option.flag} (${option.env})`;
}

/** The same, for a value that came from envoyproxy/ratelimit's variables. */
export function describeReferenceOption(name: OptionName): string {
  const option: OptionSpec = OPTIONS[name];
  return `${option.flag} (${option.env}, or envoyproxy/ratelimit's ${option.referenceEnv?.join(", ")})`;
}
