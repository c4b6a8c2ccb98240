import { availableParallelism } from "node:os";
import type { HeaderStyle } from "../limiter/limiter-types.ts";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_REQUEST_LIMITS,
  type RequestLimits,
} from "../limiter/request-limits.ts";
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
 * One option: its flag, its environment variable, whether the flag may repeat, and (`referenceEnv`)
 * envoyproxy/ratelimit's variable for the same setting, read after Sluice's so a drop-in keeps its env.
 */
interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly repeat: boolean;
  readonly referenceEnv?: string;
}

const OPTIONS = {
  policy: { flag: "--policy", env: "SLUICE_POLICY", repeat: true },
  grpcAddr: { flag: "--grpc-addr", env: "SLUICE_GRPC_ADDR", repeat: false },
  adminAddr: { flag: "--admin-addr", env: "SLUICE_ADMIN_ADDR", repeat: false },
  redisUrl: { flag: "--redis-url", env: "SLUICE_REDIS_URL", repeat: false },
  redisCluster: { flag: "--redis-cluster", env: "SLUICE_REDIS_CLUSTER", repeat: false },
  redisSentinel: { flag: "--redis-sentinel", env: "SLUICE_REDIS_SENTINEL", repeat: false },
  redisSentinelMaster: {
    flag: "--redis-sentinel-master",
    env: "SLUICE_REDIS_SENTINEL_MASTER",
    repeat: false,
  },
  redisSentinelMasterPassword: {
    flag: "--redis-sentinel-master-password",
    env: "SLUICE_REDIS_SENTINEL_MASTER_PASSWORD",
    repeat: false,
  },
  headerStyle: { flag: "--header-style", env: "SLUICE_HEADER_STYLE", repeat: false },
  upstreamHeaders: { flag: "--upstream-headers", env: "SLUICE_UPSTREAM_HEADERS", repeat: false },
  shutdownGrace: { flag: "--shutdown-grace-ms", env: "SLUICE_SHUTDOWN_GRACE_MS", repeat: false },
  nearLimitRatio: { flag: "--near-limit-ratio", env: "SLUICE_NEAR_LIMIT_RATIO", repeat: false },
  maxDescriptors: { flag: "--max-descriptors", env: "SLUICE_MAX_DESCRIPTORS", repeat: false },
  maxEntries: { flag: "--max-descriptor-entries", env: "SLUICE_MAX_DESCRIPTOR_ENTRIES", repeat: false },
  maxKeyBytes: { flag: "--max-key-bytes", env: "SLUICE_MAX_KEY_BYTES", repeat: false },
  maxValueBytes: { flag: "--max-value-bytes", env: "SLUICE_MAX_VALUE_BYTES", repeat: false },
  maxMessageBytes: { flag: "--max-message-bytes", env: "SLUICE_MAX_MESSAGE_BYTES", repeat: false },
  storeTimeout: { flag: "--store-timeout-ms", env: "SLUICE_STORE_TIMEOUT_MS", repeat: false },
  storeMaxInFlight: { flag: "--store-max-in-flight", env: "SLUICE_STORE_MAX_IN_FLIGHT", repeat: false },
  failurePolicy: { flag: "--failure-policy", env: "SLUICE_FAILURE_POLICY", repeat: false },
  expectedInstances: { flag: "--expected-instances", env: "SLUICE_EXPECTED_INSTANCES", repeat: false },
  memoryMaxEntries: { flag: "--memory-max-entries", env: "SLUICE_MEMORY_MAX_ENTRIES", repeat: false },
  redisTlsCa: { flag: "--redis-tls-ca", env: "SLUICE_REDIS_TLS_CA", repeat: false },
  tlsCert: { flag: "--tls-cert", env: "SLUICE_TLS_CERT", repeat: false },
  tlsKey: { flag: "--tls-key", env: "SLUICE_TLS_KEY", repeat: false },
  tlsClientCa: { flag: "--tls-client-ca", env: "SLUICE_TLS_CLIENT_CA", repeat: false },
  tlsReload: { flag: "--tls-reload-interval-ms", env: "SLUICE_TLS_RELOAD_INTERVAL_MS", repeat: false },
  localCacheSize: { flag: "--local-cache-size", env: "SLUICE_LOCAL_CACHE_SIZE", repeat: false },
  workers: { flag: "--workers", env: "SLUICE_WORKERS", repeat: false },
  mergeDomainConfig: {
    flag: "--merge-domain-config",
    env: "SLUICE_MERGE_DOMAIN_CONFIG",
    referenceEnv: "MERGE_DOMAIN_CONFIG",
    repeat: false,
  },
} as const satisfies Record<string, OptionSpec>;

/**
 * A cap for calls without a deadline, in ms. It is deliberately not stricter than any caller's own
 * deadline: a fixed short budget turned bursts into store timeouts, i.e. into UNAVAILABLE answers that
 * Envoy fails open on, exactly when traffic peaks. Envoy's `timeout` (20 ms unless set) is what bounds
 * a decision in production.
 */
export const DEFAULT_STORE_TIMEOUT_MS = 5_000;

/** Over-limit calls cached by default: a few MiB at most, and far more refused clients than one instance sees. */
export const DEFAULT_LOCAL_CACHE_SIZE = 10_000;

type OptionName = keyof typeof OPTIONS;

const HEADER_STYLES: readonly HeaderStyle[] = ["x-ratelimit", "draft", "none"];

export const SERVE_USAGE = `usage: sluice serve --policy PATH [--policy PATH ...] [--grpc-addr HOST:PORT] [--admin-addr HOST:PORT]
                    [--redis-url redis://...|rediss://...] [--redis-cluster HOST:PORT,...|rediss://HOST:PORT,...]
                    [--redis-sentinel HOST:PORT,... --redis-sentinel-master NAME [--redis-sentinel-master-password P]]
                    [--header-style x-ratelimit|draft|none] [--upstream-headers true|false] [--shutdown-grace-ms N]
                    [--near-limit-ratio R (0 < R <= 1, default 0.8)]
                    [--max-descriptors N] [--max-descriptor-entries N] [--max-key-bytes N] [--max-value-bytes N]
                    [--max-message-bytes N]
                    [--store-timeout-ms N] [--store-max-in-flight N] [--failure-policy unavailable|allow|deny|local]
                    [--expected-instances N] [--memory-max-entries N]
                    [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE] [--tls-reload-interval-ms N]]
                    [--redis-tls-ca FILE]
                    [--local-cache-size N (0 = off, default 10000)] [--workers N (default: cores with Redis, else 1)]
                    [--merge-domain-config true|false (merge policy files of one domain; default false)]
Each flag can also be set in the environment: ${Object.values(OPTIONS)
  .map((o) => o.env)
  .join(", ")}. Flags win over the environment.
envoyproxy/ratelimit's names are read too, after Sluice's: ${Object.values(OPTIONS)
  .flatMap((o: OptionSpec) => (o.referenceEnv === undefined ? [] : [o.referenceEnv]))
  .join(", ")}.`;

/** Parses `serve` flags and environment into validated, frozen settings, or every error found. */
export function parseSettings(argv: readonly string[], env: Env): SettingsResult {
  const errors: string[] = [];
  const flags = readFlags(argv, errors);
  const raw = (name: OptionName): string | undefined => flags.get(name)?.at(-1) ?? fromEnv(name, env);

  const policyPaths = flags.get("policy") ?? splitList(env[OPTIONS.policy.env]);
  if (policyPaths.length === 0) errors.push(`${OPTIONS.policy.flag} (or ${OPTIONS.policy.env}) is required`);

  const grpcAddr = parseHostPort("grpcAddr", raw("grpcAddr") ?? "0.0.0.0:8081", errors);
  const adminAddr = parseHostPort("adminAddr", raw("adminAddr") ?? "0.0.0.0:9102", errors);

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

  const styleText = raw("headerStyle") ?? "x-ratelimit";
  const headerStyle = HEADER_STYLES.find((s) => s === styleText);
  if (headerStyle === undefined) {
    errors.push(
      `${describeOption("headerStyle")}: expected one of ${HEADER_STYLES.join(", ")}, got "${styleText}"`,
    );
  }
  const upstreamHeaders = parseBoolean("upstreamHeaders", raw("upstreamHeaders") ?? "false", errors);
  const shutdownGraceMs = parseWholeNumber("shutdownGrace", raw("shutdownGrace") ?? "10000", errors);
  const nearLimitRatio = parseRatio("nearLimitRatio", raw("nearLimitRatio") ?? "0.8", errors);
  const limit = (name: OptionName, fallback: number) =>
    parsePositiveNumber(name, raw(name) ?? String(fallback), errors);
  const requestLimits: RequestLimits = Object.freeze({
    maxDescriptors: limit("maxDescriptors", DEFAULT_REQUEST_LIMITS.maxDescriptors),
    maxEntriesPerDescriptor: limit("maxEntries", DEFAULT_REQUEST_LIMITS.maxEntriesPerDescriptor),
    maxKeyBytes: limit("maxKeyBytes", DEFAULT_REQUEST_LIMITS.maxKeyBytes),
    maxValueBytes: limit("maxValueBytes", DEFAULT_REQUEST_LIMITS.maxValueBytes),
  });
  const maxMessageBytes = limit("maxMessageBytes", DEFAULT_MAX_MESSAGE_BYTES);
  const storeTimeoutMs = limit("storeTimeout", DEFAULT_STORE_TIMEOUT_MS);
  const storeMaxInFlight = limit("storeMaxInFlight", 1024);
  const expectedInstances = limit("expectedInstances", 1);
  const memoryMaxEntries = limit("memoryMaxEntries", DEFAULT_MAX_COUNTERS);
  const localCacheSize = parseWholeNumber(
    "localCacheSize",
    raw("localCacheSize") ?? String(DEFAULT_LOCAL_CACHE_SIZE),
    errors,
  );
  // Memory counters live in one process: workers would each enforce their own copy of every limit.
  const sharedStore = redisUrl !== undefined || redisCluster !== undefined || redisSentinel !== undefined;
  const workers = limit("workers", sharedStore ? availableParallelism() : 1);
  if (workers > 1 && !sharedStore) {
    errors.push(
      `${describeOption("workers")}: ${workers} workers need ${OPTIONS.redisUrl.flag}, ${OPTIONS.redisCluster.flag} or ${OPTIONS.redisSentinel.flag}; memory counters are per process, so each worker would enforce its own copy of every limit`,
    );
  }
  const mergeDomainConfig = parseBoolean("mergeDomainConfig", raw("mergeDomainConfig") ?? "false", errors);
  const tls = parseTls(raw("tlsCert"), raw("tlsKey"), raw("tlsClientCa"), limit("tlsReload", 5_000), errors);
  const failurePolicyText = raw("failurePolicy") ?? "unavailable";
  const failurePolicy = isFailurePolicy(failurePolicyText) ? failurePolicyText : undefined;
  if (failurePolicy === undefined) {
    errors.push(
      `${describeOption("failurePolicy")}: expected one of ${FAILURE_POLICIES.join(", ")}, got "${failurePolicyText}"`,
    );
  }

  if (errors.length > 0 || headerStyle === undefined || failurePolicy === undefined) {
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
      tls,
      redisTlsCa: raw("redisTlsCa"),
      mergeDomainConfig,
    }),
  };
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
