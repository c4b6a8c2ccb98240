import { availableParallelism } from "node:os";
import type { HeaderStyle } from "../limiter/limiter-types.ts";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_REQUEST_LIMITS,
  type RequestLimits,
} from "../limiter/request-limits.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../log/logger.ts";
import { FAILURE_POLICIES, type FailurePolicy, isFailurePolicy } from "../policy/failure-policy.ts";
import { DEFAULT_MAX_COUNTERS } from "../store/memory-counter-store.ts";
import { parseRedisStore, type RedisSentinelSettings } from "./redis-settings.ts";

/** Everything `sluice serve` is configured with: parsed once at start, validated, frozen. */
export interface Settings {
  readonly policyPaths: readonly string[];
  readonly grpcAddr: HostPort;
  readonly adminAddr: HostPort;
  readonly redisUrl?: string | undefined;
  readonly redisCluster?: readonly string[] | undefined;
  /** A master found and followed through failovers by Redis Sentinel. */
  readonly redisSentinel?: RedisSentinelSettings | undefined;
  readonly headerStyle: HeaderStyle;
  /** Pass the rate-limit figures to the upstream as request headers on OK. */
  readonly upstreamHeaders: boolean;
  /** How long SIGTERM waits for in-flight calls before closing anyway, in ms. */
  readonly shutdownGraceMs: number;
  /** A rule outcome that passed with at least this fraction of its window used counts as near the limit (metrics). */
  readonly nearLimitRatio: number;
  /** Bounds on one ShouldRateLimit call; a call beyond them is answered INVALID_ARGUMENT. */
  readonly requestLimits: RequestLimits;
  /** Bound on one encoded request in bytes; grpc-js refuses a larger one before decoding it. */
  readonly maxMessageBytes: number;
  /**
   * Longest wait for one Redis call, in ms. A call's own gRPC deadline shortens it: the caller (Envoy's
   * `timeout`) decides how long a decision may take, and this only bounds calls that set no deadline.
   */
  readonly storeTimeoutMs: number;
  /** Redis charges outstanding at once; calls beyond it are answered per the failure policy. */
  readonly storeMaxInFlight: number;
  /** The answer when Redis cannot be asked, unless a domain's policy file sets its own. */
  readonly failurePolicy: FailurePolicy;
  /** Sluice instances sharing the limits; the `local` failure policy admits limit ÷ this each. */
  readonly expectedInstances: number;
  /** Counters a memory store holds before it evicts the least recently used (memory store, `local` policy). */
  readonly memoryMaxEntries: number;
  /** Calls the local over-limit cache holds (over-limit-cache.ts); 0 turns it off. */
  readonly localCacheSize: number;
  /** Processes serving the one gRPC port (node:cluster); 1 runs no cluster. */
  readonly workers: number;
  /** json for log collectors; text for people (a startup line, then readable records). */
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
  /** CA bundle (PEM file) a rediss:// server's certificate must chain to; the system's CAs when absent. */
  readonly redisTlsCa?: string | undefined;
  /** TLS on the gRPC port (mutual with a client CA), re-read every `reloadIntervalMs`; absent: plaintext. */
  readonly tls?: TlsSettings | undefined;
  /** Policy files naming one domain are merged into it (envoyproxy/ratelimit's MERGE_DOMAIN_CONFIG) instead of refused. */
  readonly mergeDomainConfig: boolean;
}

export interface TlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile?: string | undefined;
  readonly reloadIntervalMs: number;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type SettingsResult =
  | { readonly ok: true; readonly settings: Settings }
  | { readonly ok: false; readonly errors: readonly string[] };

type Env = Readonly<Record<string, string | undefined>>;

/**
 * A cap for calls without a deadline, in ms. It is deliberately not stricter than any caller's own
 * deadline: a fixed short budget turned bursts into store timeouts, i.e. into UNAVAILABLE answers that
 * Envoy fails open on, exactly when traffic peaks. Envoy's `timeout` (20 ms unless set) is what bounds
 * a decision in production.
 */
export const DEFAULT_STORE_TIMEOUT_MS = 5_000;

/** Over-limit calls cached by default: a few MiB at most, and far more refused clients than one instance sees. */
export const DEFAULT_LOCAL_CACHE_SIZE = 10_000;

const HEADER_STYLES: readonly HeaderStyle[] = ["x-ratelimit", "draft", "none"];

/**
 * One option: its flag, its environment variable, whether the flag may repeat, and (`referenceEnv`)
 * envoyproxy/ratelimit's variable for the same setting, read after Sluice's so a drop-in keeps its env.
 */
export interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly repeat: boolean;
  readonly referenceEnv?: string;
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
    repeat: true,
    value: "PATH",
    defaultText: "required",
    help: "YAML policy file, or directory of *.yaml/*.yml files; repeat the flag (commas in the environment)",
  },
  grpcAddr: {
    flag: "--grpc-addr",
    env: "SLUICE_GRPC_ADDR",
    repeat: false,
    value: "HOST:PORT",
    default: "0.0.0.0:8081",
    help: "where RateLimitService, grpc.health.v1 and reflection are served",
  },
  adminAddr: {
    flag: "--admin-addr",
    env: "SLUICE_ADMIN_ADDR",
    repeat: false,
    value: "HOST:PORT",
    default: "0.0.0.0:9102",
    help: "where the admin HTTP endpoints /healthz, /readyz and /metrics are served",
  },
  redisUrl: {
    flag: "--redis-url",
    env: "SLUICE_REDIS_URL",
    repeat: false,
    value: "URL",
    help: "one Redis, redis://[[user]:password@]host:port[/db] (rediss:// for TLS); unset: counters in memory",
  },
  redisCluster: {
    flag: "--redis-cluster",
    env: "SLUICE_REDIS_CLUSTER",
    repeat: false,
    value: "HOST:PORT,...",
    help: "Redis Cluster seed nodes, HOST:PORT or redis[s]:// URLs carrying AUTH",
  },
  redisSentinel: {
    flag: "--redis-sentinel",
    env: "SLUICE_REDIS_SENTINEL",
    repeat: false,
    value: "HOST:PORT,...",
    help: "Redis Sentinels, HOST:PORT or URLs (the first URL's password is the sentinels' own)",
  },
  redisSentinelMaster: {
    flag: "--redis-sentinel-master",
    env: "SLUICE_REDIS_SENTINEL_MASTER",
    repeat: false,
    value: "NAME",
    help: "the master's name in `sentinel monitor`; required with --redis-sentinel",
  },
  redisSentinelMasterPassword: {
    flag: "--redis-sentinel-master-password",
    env: "SLUICE_REDIS_SENTINEL_MASTER_PASSWORD",
    repeat: false,
    value: "PASSWORD",
    help: "AUTH password of the master Sentinel finds and its replicas",
  },
  headerStyle: {
    flag: "--header-style",
    env: "SLUICE_HEADER_STYLE",
    repeat: false,
    value: HEADER_STYLES.join("|"),
    default: "x-ratelimit",
    help: "headers Envoy adds to answers: x-ratelimit, IETF draft (RateLimit, RateLimit-Policy) or none",
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
    repeat: false,
    value: "FILE",
    help: "CA bundle (PEM) a rediss:// server's certificate must chain to; unset: the system's CAs",
  },
  tlsCert: {
    flag: "--tls-cert",
    env: "SLUICE_TLS_CERT",
    repeat: false,
    value: "FILE",
    help: "certificate chain (PEM) for TLS on the gRPC port; needs --tls-key",
  },
  tlsKey: {
    flag: "--tls-key",
    env: "SLUICE_TLS_KEY",
    repeat: false,
    value: "FILE",
    help: "private key (PEM) of --tls-cert",
  },
  tlsClientCa: {
    flag: "--tls-client-ca",
    env: "SLUICE_TLS_CLIENT_CA",
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
    repeat: false,
    value: "N",
    default: String(DEFAULT_LOCAL_CACHE_SIZE),
    help: "over-limit calls answered locally until their retry time; 0 turns the cache off",
  },
  logFormat: {
    flag: "--log-format",
    env: "SLUICE_LOG_FORMAT",
    repeat: false,
    value: LOG_FORMATS.join("|"),
    default: "json",
    help: "json: one JSON record per line on stdout, for log collectors (plus one readable startup line on stderr); text: readable lines on stdout",
  },
  logLevel: {
    flag: "--log-level",
    env: "SLUICE_LOG_LEVEL",
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
    referenceEnv: "MERGE_DOMAIN_CONFIG",
    repeat: false,
    value: "true|false",
    default: "false",
    help: "merge policy files that name one domain (envoyproxy/ratelimit's MERGE_DOMAIN_CONFIG) instead of refusing them",
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** Parses `serve` flags and environment into validated, frozen settings, or every error found. */
export function parseSettings(argv: readonly string[], env: Env): SettingsResult {
  const errors: string[] = [];
  const flags = readFlags(argv, errors);
  const raw = (name: OptionName): string | undefined => flags.get(name)?.at(-1) ?? fromEnv(name, env);

  const valueOf = (name: OptionName): string => raw(name) ?? defaultOf(name);

  const policyPaths = flags.get("policy") ?? splitList(env[OPTIONS.policy.env]);
  if (policyPaths.length === 0) errors.push(`${OPTIONS.policy.flag} (or ${OPTIONS.policy.env}) is required`);

  const grpcAddr = parseHostPort("grpcAddr", valueOf("grpcAddr"), errors);
  const adminAddr = parseHostPort("adminAddr", valueOf("adminAddr"), errors);

  const { redisUrl, redisCluster, redisSentinel } = parseRedisStore(
    {
      redisUrl: raw("redisUrl"),
      redisCluster: raw("redisCluster"),
      redisSentinel: raw("redisSentinel"),
      redisSentinelMaster: raw("redisSentinelMaster"),
      redisSentinelMasterPassword: raw("redisSentinelMasterPassword"),
    },
    describeOption,
    errors,
  );

  const headerStyle = parseChoice("headerStyle", valueOf("headerStyle"), HEADER_STYLES, errors);
  const upstreamHeaders = parseBoolean("upstreamHeaders", valueOf("upstreamHeaders"), errors);
  const shutdownGraceMs = parseWholeNumber("shutdownGrace", valueOf("shutdownGrace"), errors);
  const nearLimitRatio = parseRatio("nearLimitRatio", valueOf("nearLimitRatio"), errors);
  // `computed`: a default that depends on other settings (workers), instead of the table's.
  const limit = (name: OptionName, computed?: number) =>
    parsePositiveNumber(
      name,
      raw(name) ?? (computed === undefined ? defaultOf(name) : String(computed)),
      errors,
    );
  const requestLimits: RequestLimits = Object.freeze({
    maxDescriptors: limit("maxDescriptors"),
    maxEntriesPerDescriptor: limit("maxEntries"),
    maxKeyBytes: limit("maxKeyBytes"),
    maxValueBytes: limit("maxValueBytes"),
  });
  const maxMessageBytes = limit("maxMessageBytes");
  const storeTimeoutMs = limit("storeTimeout");
  const storeMaxInFlight = limit("storeMaxInFlight");
  const expectedInstances = limit("expectedInstances");
  const memoryMaxEntries = limit("memoryMaxEntries");
  const localCacheSize = parseWholeNumber("localCacheSize", valueOf("localCacheSize"), errors);
  const logFormat = parseChoice("logFormat", valueOf("logFormat"), LOG_FORMATS, errors);
  const logLevel = parseChoice("logLevel", valueOf("logLevel"), LOG_LEVELS, errors);
  // Memory counters live in one process: workers would each enforce their own copy of every limit.
  const sharedStore = redisUrl !== undefined || redisCluster !== undefined || redisSentinel !== undefined;
  const workers = limit("workers", sharedStore ? availableParallelism() : 1);
  if (workers > 1 && !sharedStore) {
    errors.push(
      `${describeOption("workers")}: ${workers} workers need ${OPTIONS.redisUrl.flag}, ${OPTIONS.redisCluster.flag} or ${OPTIONS.redisSentinel.flag}; memory counters are per process, so each worker would enforce its own copy of every limit`,
    );
  }
  const mergeDomainConfig = parseBoolean("mergeDomainConfig", raw("mergeDomainConfig") ?? "false", errors);
  const tls = parseTls(raw("tlsCert"), raw("tlsKey"), raw("tlsClientCa"), limit("tlsReload"), errors);
  const failurePolicyText = valueOf("failurePolicy");
  const failurePolicy = isFailurePolicy(failurePolicyText) ? failurePolicyText : undefined;
  if (failurePolicy === undefined) {
    errors.push(
      `${describeOption("failurePolicy")}: expected one of ${FAILURE_POLICIES.join(", ")}, got "${failurePolicyText}"`,
    );
  }

  if (
    errors.length > 0 ||
    headerStyle === undefined ||
    failurePolicy === undefined ||
    logFormat === undefined ||
    logLevel === undefined
  ) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    settings: Object.freeze({
      policyPaths: Object.freeze([...policyPaths]),
      grpcAddr,
      adminAddr,
      redisUrl,
      redisCluster,
      redisSentinel,
      headerStyle,
      upstreamHeaders,
      shutdownGraceMs,
      nearLimitRatio,
      requestLimits,
      maxMessageBytes,
      storeTimeoutMs,
      storeMaxInFlight,
      failurePolicy,
      expectedInstances,
      memoryMaxEntries,
      localCacheSize,
      workers,
      logFormat,
      logLevel,
      tls,
      redisTlsCa: raw("redisTlsCa"),
      mergeDomainConfig,
    }),
  };
}

/** The value an option takes when neither its flag nor its environment sets one; "" when it has none. */
function defaultOf(name: OptionName): string {
  const option: OptionSpec = OPTIONS[name];
  return option.default ?? "";
}

function parseChoice<T extends string>(
  name: OptionName,
  text: string,
  choices: readonly T[],
  errors: string[],
): T | undefined {
  const chosen = choices.find((c) => c === text);
  if (chosen === undefined)
    errors.push(`${describeOption(name)}: expected one of ${choices.join(", ")}, got "${text}"`);
  return chosen;
}

function parseTls(
  certFile: string | undefined,
  keyFile: string | undefined,
  clientCaFile: string | undefined,
  reloadIntervalMs: number,
  errors: string[],
): TlsSettings | undefined {
  if (certFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) {
      errors.push(
        `${describeOption("tlsClientCa")} needs ${OPTIONS.tlsCert.flag} and ${OPTIONS.tlsKey.flag}`,
      );
    }
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    errors.push(`${describeOption("tlsCert")} and ${describeOption("tlsKey")} go together: set both`);
    return undefined;
  }
  return Object.freeze({ certFile, keyFile, clientCaFile, reloadIntervalMs });
}

function readFlags(argv: readonly string[], errors: string[]): Map<OptionName, string[]> {
  const byFlag = new Map<string, OptionName>(
    Object.entries(OPTIONS).map(([name, o]) => [o.flag, name as OptionName]),
  );
  const flags = new Map<OptionName, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const name = byFlag.get(flag);
    if (name === undefined) {
      errors.push(`unknown argument "${arg}"`);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith("--"))) {
      errors.push(`${flag} needs a value`);
      continue;
    }
    const values = flags.get(name) ?? [];
    if (values.length > 0 && !OPTIONS[name].repeat) errors.push(`${flag} given more than once`);
    if (name === "policy") values.push(...splitList(value));
    else values.push(value);
    flags.set(name, values);
  }
  return flags;
}

/** `sluice check`'s --merge-domain-config, read as `serve` reads it (flag, then the environment). */
export function parseMergeDomainConfig(
  flagValue: string | undefined,
  env: Env,
): { readonly ok: true; readonly value: boolean } | { readonly ok: false; readonly error: string } {
  const errors: string[] = [];
  const value = parseBoolean(
    "mergeDomainConfig",
    flagValue ?? fromEnv("mergeDomainConfig", env) ?? "false",
    errors,
  );
  return errors[0] === undefined ? { ok: true, value } : { ok: false, error: errors[0] };
}

/** An option's value from Sluice's variable, else the reference's; an empty variable counts as unset. */
function fromEnv(name: OptionName, env: Env): string | undefined {
  const option: OptionSpec = OPTIONS[name];
  for (const variable of [option.env, option.referenceEnv]) {
    const value = variable === undefined ? undefined : env[variable];
    if (value !== undefined && value !== "") return value;
  }
  return undefined;
}

/** How an error names an option: its flag and its variables, `--grpc-addr (SLUICE_GRPC_ADDR)`. */
export function describeOption(name: OptionName): string {
  const option: OptionSpec = OPTIONS[name];
  const variables = option.referenceEnv === undefined ? option.env : `${option.env}, ${option.referenceEnv}`;
  return `${option.flag} (${variables})`;
}

function splitList(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function parseHostPort(name: OptionName, text: string, errors: string[]): HostPort {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !(port >= 0 && port <= 65_535)) {
    errors.push(`${describeOption(name)}: expected HOST:PORT, got "${text}"`);
    return { host: "", port: 0 };
  }
  return Object.freeze({ host: match[1].replace(/^\[|\]$/g, ""), port });
}

// Go's strconv.ParseBool spellings, which envoyproxy/ratelimit's settings accept, so its env values read alike.
const TRUE_TEXTS: ReadonlySet<string> = new Set(["true", "1", "t", "T", "TRUE", "True"]);
const FALSE_TEXTS: ReadonlySet<string> = new Set(["false", "0", "f", "F", "FALSE", "False"]);

function parseBoolean(name: OptionName, text: string, errors: string[]): boolean {
  if (TRUE_TEXTS.has(text)) return true;
  if (FALSE_TEXTS.has(text)) return false;
  errors.push(`${describeOption(name)}: expected true or false, got "${text}"`);
  return false;
}

function parsePositiveNumber(name: OptionName, text: string, errors: string[]): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || text.trim() === "") {
    errors.push(`${describeOption(name)}: expected a whole number of at least 1, got "${text}"`);
    return 1;
  }
  return value;
}

function parseRatio(name: OptionName, text: string, errors: string[]): number {
  const value = Number(text);
  if (!(value > 0 && value <= 1) || text.trim() === "") {
    errors.push(`${describeOption(name)}: expected a number above 0 and at most 1, got "${text}"`);
    return 1;
  }
  return value;
}

function parseWholeNumber(name: OptionName, text: string, errors: string[]): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0 || text.trim() === "") {
    errors.push(`${describeOption(name)}: expected a whole number, got "${text}"`);
    return 0;
  }
  return value;
}
