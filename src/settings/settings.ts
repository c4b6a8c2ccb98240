import { availableParallelism } from "node:os";
import type { HeaderStyle } from "../limiter/limiter-types.ts";
import type { HeaderNames } from "../limiter/rate-limit-headers.ts";
import type { RequestLimits } from "../limiter/request-limits.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../log/logger.ts";
import { FAILURE_POLICIES, type FailurePolicy, isFailurePolicy } from "../policy/failure-policy.ts";
import { parseGoBool } from "./go-values.ts";
import {
  describeOption,
  describeReferenceOption,
  HEADER_STYLES,
  OPTIONS,
  type OptionName,
  type OptionSpec,
} from "./options.ts";
import { parseRedisStore, type RedisSentinelSettings } from "./redis-settings.ts";
import { OPTION_GROUPS, readReferenceEnv, type SettingNotice } from "./reference-env.ts";

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
  /** The three headers of the envoy-ratelimit style (envoyproxy/ratelimit's LIMIT_*_HEADER). */
  readonly headerNames: HeaderNames;
  /** Every call answered OK, refusals only counted (envoyproxy/ratelimit's SHADOW_MODE). */
  readonly shadowMode: boolean;
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
  | {
      readonly ok: true;
      readonly settings: Settings;
      /** envoyproxy/ratelimit variables set that Sluice does not act on or overrides, for the log. */
      readonly notices: readonly SettingNotice[];
    }
  | { readonly ok: false; readonly errors: readonly string[] };

type Env = Readonly<Record<string, string | undefined>>;

/** Options with one value (--policy is a list). */
type ValueOption = Exclude<OptionName, "policy">;

/** Parses `serve` flags and environment into validated, frozen settings, or every error found. */
export function parseSettings(argv: readonly string[], env: Env): SettingsResult {
  const errors: string[] = [];
  const flags = readFlags(argv, errors);
  const reference = readReferenceEnv(env);
  errors.push(...reference.errors);
  const notices = [...reference.notices];
  const setBySluice = (name: OptionName) => flags.has(name) || sluiceEnv(name, env) !== undefined;
  // Sluice's flag, then its variable, then envoyproxy/ratelimit's, unless Sluice set the option's group.
  const usedReference = new Set<OptionName>();
  const groupOf = (name: OptionName) => OPTION_GROUPS.find((g) => g.includes(name)) ?? [name];
  const fromReference = (name: ValueOption): string | undefined => {
    const value = groupOf(name).some(setBySluice) ? undefined : reference.values[name];
    if (value !== undefined) usedReference.add(name);
    return value;
  };
  const raw = (name: ValueOption): string | undefined =>
    flags.get(name)?.at(-1) ?? sluiceEnv(name, env) ?? fromReference(name);
  const valueOf = (name: ValueOption): string => raw(name) ?? defaultOf(name);
  for (const name of Object.keys(reference.values) as ValueOption[]) {
    if (groupOf(name).some(setBySluice)) notices.push(overridden(name));
  }
  if (reference.policyPath !== undefined && setBySluice("policy")) notices.push(overridden("policy"));

  const policyPaths =
    flags.get("policy") ??
    splitList(sluiceEnv("policy", env)) ??
    (reference.policyPath === undefined ? [] : [reference.policyPath]);
  if (policyPaths.length === 0)
    errors.push(
      `${OPTIONS.policy.flag} (or ${OPTIONS.policy.env}, or envoyproxy/ratelimit's RUNTIME_ROOT, RUNTIME_SUBDIRECTORY and RUNTIME_APPDIRECTORY) is required`,
    );

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
  const headerNames: HeaderNames = Object.freeze({
    limit: parseHeaderName("limitHeader", valueOf("limitHeader"), errors),
    remaining: parseHeaderName("remainingHeader", valueOf("remainingHeader"), errors),
    reset: parseHeaderName("resetHeader", valueOf("resetHeader"), errors),
  });
  const shadowMode = parseBoolean("shadowMode", valueOf("shadowMode"), errors);
  const upstreamHeaders = parseBoolean("upstreamHeaders", valueOf("upstreamHeaders"), errors);
  const shutdownGraceMs = parseWholeNumber("shutdownGrace", valueOf("shutdownGrace"), errors);
  const nearLimitRatio = parseRatio("nearLimitRatio", valueOf("nearLimitRatio"), errors);
  // `computed`: a default that depends on other settings (workers), instead of the table's.
  const limit = (name: ValueOption, computed?: number) =>
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
  const mergeDomainConfig = parseBoolean("mergeDomainConfig", valueOf("mergeDomainConfig"), errors);
  const tls = parseTls(raw("tlsCert"), raw("tlsKey"), raw("tlsClientCa"), limit("tlsReload"), errors);
  const failurePolicyText = valueOf("failurePolicy");
  const failurePolicy = isFailurePolicy(failurePolicyText) ? failurePolicyText : undefined;
  if (failurePolicy === undefined) {
    errors.push(
      `${describeOption("failurePolicy")}: expected one of ${FAILURE_POLICIES.join(", ")}, got "${failurePolicyText}"`,
    );
  }

  if (!flags.has("policy") && sluiceEnv("policy", env) === undefined && reference.policyPath !== undefined)
    usedReference.add("policy");
  // A bad value that came from the reference's variables is named by them too.
  for (const name of usedReference) {
    errors.forEach((error, i) => {
      errors[i] = error.replaceAll(describeOption(name), describeReferenceOption(name));
    });
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
    notices,
    settings: Object.freeze({
      policyPaths: Object.freeze([...policyPaths]),
      grpcAddr,
      adminAddr,
      redisUrl,
      redisCluster,
      redisSentinel,
      headerStyle,
      headerNames,
      shadowMode,
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

/** The value an option takes when nothing sets it; "" when it has none. */
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
    if (name === "policy") values.push(...(splitList(value) ?? []));
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
  const own = flagValue ?? sluiceEnv("mergeDomainConfig", env);
  const text = own ?? readReferenceEnv(env).values.mergeDomainConfig ?? "false";
  const value = parseBoolean("mergeDomainConfig", text, errors);
  if (errors[0] === undefined) return { ok: true, value };
  const named = own === undefined ? describeReferenceOption("mergeDomainConfig") : undefined;
  return {
    ok: false,
    error: named ? errors[0].replace(describeOption("mergeDomainConfig"), named) : errors[0],
  };
}

/** An option's value from Sluice's own variable; an empty variable counts as unset. */
function sluiceEnv(name: OptionName, env: Env): string | undefined {
  const value = env[OPTIONS[name].env];
  return value === "" ? undefined : value;
}

function overridden(name: OptionName): SettingNotice {
  const option: OptionSpec = OPTIONS[name];
  const variables = option.referenceEnv?.join(", ") ?? "";
  return {
    level: "info",
    setting: variables,
    message: `${option.flag} (${option.env}) is set, so envoyproxy/ratelimit's ${variables} are not used for it`,
  };
}

/** Items of a comma list, or undefined when there is no list. */
function splitList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

// RFC 9110's token: what a header field name may be.
function parseHeaderName(name: OptionName, text: string, errors: string[]): string {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(text))
    errors.push(`${describeOption(name)}: expected a header name, got "${text}"`);
  return text;
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
function parseBoolean(name: OptionName, text: string, errors: string[]): boolean {
  const value = parseGoBool(text);
  if (value === undefined) errors.push(`${describeOption(name)}: expected true or false, got "${text}"`);
  return value ?? false;
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
