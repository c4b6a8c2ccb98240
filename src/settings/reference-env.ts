import { join } from "node:path";
import { parseGoBool, parseGoDurationMs } from "./go-values.ts";
import type { OptionName } from "./options.ts";
import { REFERENCE_SETTINGS } from "./reference-settings.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** Something at start worth a log record: a reference setting Sluice does not act on, or overrides. */
export interface SettingNotice {
  readonly level: "warn" | "info";
  /** The variable the notice is about. */
  readonly setting: string;
  readonly message: string;
}

/** envoyproxy/ratelimit's environment, as text for Sluice's options (parsed like flags after it). */
export interface ReferenceReading {
  readonly values: Partial<Record<Exclude<OptionName, "policy">, string>>;
  /** `$RUNTIME_ROOT/$RUNTIME_SUBDIRECTORY/$RUNTIME_APPDIRECTORY`, when any of them is set. */
  readonly policyPath?: string | undefined;
  readonly errors: readonly string[];
  readonly notices: readonly SettingNotice[];
}

/**
 * Options set together: when Sluice's own flags or variables set any one of a group, the reference's
 * values for the whole group are left out, so (say) SLUICE_REDIS_CLUSTER with the reference's
 * REDIS_URL is Sluice's cluster, not a conflict between two stores.
 */
export const OPTION_GROUPS: readonly (readonly OptionName[])[] = [
  ["redisUrl", "redisCluster", "redisSentinel", "redisSentinelMaster", "redisSentinelMasterPassword"],
  ["tlsCert", "tlsKey", "tlsClientCa"],
];

/**
 * How many bytes the reference's LOCAL_CACHE_SIZE_IN_BYTES buys one entry of Sluice's over-limit
 * cache, which holds a whole refused call (its plan, counts and key) where the reference's freecache
 * holds one key: about 1 KiB for a call of two descriptors (measured: heap growth over 20,000 entries).
 */
export const BYTES_PER_LOCAL_CACHE_ENTRY = 1024;

/** Reads the reference's variables that map to Sluice options, and notes every other one set. */
export function readReferenceEnv(env: Env): ReferenceReading {
  const get = (name: string): string | undefined => (env[name] === "" ? undefined : env[name]);
  const values: Partial<Record<OptionName, string>> = {};
  const errors: string[] = [];
  const bool = (name: string): boolean | undefined => {
    const text = get(name);
    if (text === undefined) return undefined;
    const value = parseGoBool(text);
    if (value === undefined) errors.push(`${name}: expected true or false, got "${text}"`);
    return value;
  };

  const runtime = ["RUNTIME_ROOT", "RUNTIME_SUBDIRECTORY", "RUNTIME_APPDIRECTORY"].map(get);
  const policyPath = runtime.some((v) => v !== undefined)
    ? join(runtime[0] ?? "/srv/runtime_data/current", runtime[1] ?? "", runtime[2] ?? "config")
    : undefined;

  const grpcHost = get("GRPC_HOST");
  const grpcPort = get("GRPC_PORT");
  if (grpcHost !== undefined || grpcPort !== undefined)
    values.grpcAddr = hostPort(grpcHost ?? "0.0.0.0", port("GRPC_PORT", grpcPort ?? "8081", errors));
  const host = get("HOST");
  const httpPort = get("PORT");
  if (host !== undefined || httpPort !== undefined)
    values.adminAddr = hostPort(host ?? "0.0.0.0", port("PORT", httpPort ?? "8080", errors));

  Object.assign(values, redisValues(get, bool("REDIS_TLS") ?? false, errors));
  if (get("BACKEND_TYPE") !== undefined && get("BACKEND_TYPE")?.toLowerCase() !== "redis")
    errors.push(`BACKEND_TYPE: Sluice keeps counters in Redis only, got "${get("BACKEND_TYPE")}"`);
  values.redisTlsCa = get("REDIS_TLS_CACERT");
  const timeout = get("REDIS_TIMEOUT");
  if (timeout !== undefined) {
    const ms = parseGoDurationMs(timeout);
    if (ms === undefined)
      errors.push(`REDIS_TIMEOUT: expected a duration such as 500ms or 10s, got "${timeout}"`);
    else if (ms > 0) values.storeTimeout = String(Math.ceil(ms));
  }

  if (bool("GRPC_SERVER_USE_TLS") === true) {
    values.tlsCert = get("GRPC_SERVER_TLS_CERT");
    values.tlsKey = get("GRPC_SERVER_TLS_KEY");
    values.tlsClientCa = get("GRPC_CLIENT_TLS_CACERT");
  }

  const level = get("LOG_LEVEL")?.toLowerCase();
  // logrus's names: panic is above fatal, which Sluice has not; warning is warn.
  values.logLevel = level === "panic" ? "fatal" : level === "warning" ? "warn" : level;
  const format = get("LOG_FORMAT");
  if (format !== undefined) values.logFormat = format.toLowerCase() === "json" ? "json" : "text";

  const headers = bool("LIMIT_RESPONSE_HEADERS_ENABLED");
  if (headers !== undefined) values.headerStyle = headers ? "envoy-ratelimit" : "none";
  values.limitHeader = get("LIMIT_LIMIT_HEADER");
  values.remainingHeader = get("LIMIT_REMAINING_HEADER");
  values.resetHeader = get("LIMIT_RESET_HEADER");

  const cacheBytes = get("LOCAL_CACHE_SIZE_IN_BYTES");
  if (cacheBytes !== undefined) {
    const bytes = Number(cacheBytes);
    if (!Number.isSafeInteger(bytes) || bytes < 0)
      errors.push(`LOCAL_CACHE_SIZE_IN_BYTES: expected a whole number, got "${cacheBytes}"`);
    else
      values.localCacheSize = String(
        bytes === 0 ? 0 : Math.max(1, Math.floor(bytes / BYTES_PER_LOCAL_CACHE_ENTRY)),
      );
  }
  values.nearLimitRatio = get("NEAR_LIMIT_RATIO");
  values.shadowMode = get("SHADOW_MODE");
  values.mergeDomainConfig = get("MERGE_DOMAIN_CONFIG");

  for (const name of Object.keys(values) as OptionName[]) if (values[name] === undefined) delete values[name];
  return { values, policyPath, errors, notices: unusedSettings(get) };
}

/** A notice for each reference variable set that Sluice does not act on. */
function unusedSettings(get: (name: string) => string | undefined): SettingNotice[] {
  const notices: SettingNotice[] = [];
  for (const setting of REFERENCE_SETTINGS) {
    const value = get(setting.name);
    if (value === undefined || setting.kind === "mapped" || setting.inert?.(value)) continue;
    notices.push(
      setting.kind === "not-implemented"
        ? {
            level: "warn",
            setting: setting.name,
            message: `envoyproxy/ratelimit's ${setting.name} is set, but Sluice does not implement it: ${setting.sluice}`,
          }
        : {
            level: "info",
            setting: setting.name,
            message: `envoyproxy/ratelimit's ${setting.name} is set, but Sluice does not need it: ${setting.sluice}`,
          },
    );
  }
  return notices;
}

/**
 * The reference's Redis: REDIS_URL is HOST:PORT with the password in REDIS_AUTH (`user:password` or
 * `password`, split at the first colon as the reference does) and TLS a boolean, REDIS_TLS. With
 * REDIS_TYPE=cluster it is a comma list of nodes; with sentinel `MASTER,SENTINEL,...`, the sentinels
 * authenticating with REDIS_SENTINEL_AUTH and the master with REDIS_AUTH. A redis:// or rediss://
 * URL in REDIS_URL (single) is used as it is.
 */
function redisValues(
  get: (name: string) => string | undefined,
  tls: boolean,
  errors: string[],
): Partial<Record<OptionName, string>> {
  const url = get("REDIS_URL");
  if (url === undefined) return {};
  const socketType = get("REDIS_SOCKET_TYPE")?.toLowerCase();
  if (socketType === "unix" || (socketType === undefined && url.startsWith("/"))) {
    return unixSocketValues(url, get("REDIS_AUTH"), tls, get("REDIS_TYPE"), errors);
  }
  if (url.startsWith("/")) {
    errors.push(
      `REDIS_URL: "${url}" is a socket path, but REDIS_SOCKET_TYPE is "${socketType}"; set it to unix`,
    );
    return {};
  }
  const scheme = tls ? "rediss" : "redis";
  const withAuth = (node: string, auth: string | undefined) =>
    auth === undefined && !tls ? node : `${scheme}://${userInfo(auth)}${node}`;
  const nodes = url
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const auth = get("REDIS_AUTH");
  switch ((get("REDIS_TYPE") ?? "single").toLowerCase()) {
    case "single":
      return { redisUrl: /^rediss?:\/\//i.test(url) ? url : `${scheme}://${userInfo(auth)}${url}` };
    case "cluster":
      return { redisCluster: nodes.map((node) => withAuth(node, auth)).join(",") };
    case "sentinel": {
      const [master, ...sentinels] = nodes;
      if (master === undefined || sentinels.length === 0) {
        errors.push("REDIS_URL: with REDIS_TYPE=sentinel, expected MASTER,HOST:PORT[,HOST:PORT...]");
        return {};
      }
      if (auth?.includes(":")) {
        errors.push(
          "REDIS_AUTH: with REDIS_TYPE=sentinel, Sluice authenticates to the master with a password only, not user:password",
        );
      }
      const sentinelAuth = get("REDIS_SENTINEL_AUTH");
      return {
        redisSentinel: sentinels
          .map((node, i) => withAuth(node, i === 0 ? sentinelAuth : undefined))
          .join(","),
        redisSentinelMaster: master,
        ...(auth === undefined ? {} : { redisSentinelMasterPassword: auth }),
      };
    }
    default:
      errors.push(`REDIS_TYPE: expected single, cluster or sentinel, got "${get("REDIS_TYPE")}"`);
      return {};
  }
}

/**
 * REDIS_SOCKET_TYPE=unix: REDIS_URL is the socket's path (the reference dials it as given), for a
 * single Redis only; Sluice speaks plaintext on it (redis-unix-socket.ts).
 */
function unixSocketValues(
  path: string,
  auth: string | undefined,
  tls: boolean,
  redisType: string | undefined,
  errors: string[],
): Partial<Record<OptionName, string>> {
  if ((redisType ?? "single").toLowerCase() !== "single") {
    errors.push(
      `REDIS_SOCKET_TYPE=unix with REDIS_TYPE=${redisType}: Sluice reaches a Cluster or Sentinels over TCP only; set REDIS_SOCKET_TYPE=tcp`,
    );
    return {};
  }
  if (tls) {
    errors.push(
      "REDIS_TLS=true with REDIS_SOCKET_TYPE=unix: Sluice speaks plaintext on a Unix socket; unset REDIS_TLS",
    );
    return {};
  }
  if (!path.startsWith("/")) {
    errors.push(`REDIS_URL: with REDIS_SOCKET_TYPE=unix, expected the socket's absolute path, got "${path}"`);
    return {};
  }
  // `?`, `#` and `%` would end or escape the URL's path.
  return { redisUrl: `unix://${userInfo(auth)}${path.replace(/[%?#]/g, encodeURIComponent)}` };
}

/** `user:password@`, `:password@` or nothing, %-escaped for a URL. */
function userInfo(auth: string | undefined): string {
  if (auth === undefined) return "";
  const colon = auth.indexOf(":");
  if (colon < 0) return `:${encodeURIComponent(auth)}@`;
  return `${encodeURIComponent(auth.slice(0, colon))}:${encodeURIComponent(auth.slice(colon + 1))}@`;
}

function hostPort(host: string, port: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function port(name: string, text: string, errors: string[]): string {
  const value = Number(text);
  if (!/^\d{1,5}$/.test(text) || value > 65_535)
    errors.push(`${name}: expected a port number, got "${text}"`);
  return text;
}
