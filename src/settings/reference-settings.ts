import { parseGoBool } from "./go-values.ts";

/**
 * Every environment variable envoyproxy/ratelimit's settings read (src/settings/settings.go), and
 * what Sluice does with it:
 * - `mapped`: translated into a Sluice option (reference-env.ts), below Sluice's own flag and variable;
 * - `not-needed`: Sluice serves the purpose without it, or it only matters with a setting that is
 *   itself not implemented; logged at info when set, so nothing set is silently dropped;
 * - `not-implemented`: Sluice lacks what it asks for; a warning at start when it is set to anything
 *   but a value that asks for nothing (`inert`: off, or the behaviour Sluice has anyway).
 * The migration guide's settings table is generated from this list (referenceSettingsTable).
 */
export interface ReferenceSetting {
  readonly name: string;
  readonly kind: "mapped" | "not-needed" | "not-implemented";
  /** The Sluice option it sets, or why it has none. */
  readonly sluice: string;
  /** Values that ask for nothing Sluice lacks (not-implemented settings only). */
  readonly inert?: (value: string) => boolean;
}

const off = (value: string) => parseGoBool(value) === false;
const is =
  (...values: string[]) =>
  (value: string) =>
    values.includes(value.toLowerCase());

const XDS = "read only with CONFIG_TYPE=GRPC_XDS_SOTW, which is not implemented (warned about)";
const STATSD = "Sluice exports Prometheus metrics on the admin port's /metrics; it pushes no statsd";
const PER_SECOND = "read only with REDIS_PERSECOND=true (warned about)";
const MEMCACHE = "read only with BACKEND_TYPE=memcache, which is refused";
const TRACING = "read only with TRACING_ENABLED=true (warned about)";

export const REFERENCE_SETTINGS: readonly ReferenceSetting[] = [
  {
    name: "HOST",
    kind: "mapped",
    sluice: "`--admin-addr` host (with PORT, default 8080 when only HOST is set)",
  },
  {
    name: "PORT",
    kind: "mapped",
    sluice:
      "`--admin-addr` port: the reference's HTTP port (/json) is Sluice's admin port, whose health checks are /healthz, /readyz and the reference's /healthcheck",
  },
  {
    name: "DEBUG_HOST",
    kind: "not-implemented",
    sluice: "no separate debug listener: /rlconfig and /metrics are on the admin port (PORT)",
  },
  {
    name: "DEBUG_PORT",
    kind: "not-implemented",
    sluice: "no separate debug listener: /rlconfig and /metrics are on the admin port (PORT); no pprof",
  },
  {
    name: "GRPC_UDS",
    kind: "not-implemented",
    sluice: "gRPC listens on TCP only (`--grpc-addr`)",
    inert: is(""),
  },
  { name: "GRPC_HOST", kind: "mapped", sluice: "`--grpc-addr` host" },
  { name: "GRPC_PORT", kind: "mapped", sluice: "`--grpc-addr` port" },
  { name: "GRPC_MAX_CONNECTION_AGE", kind: "not-implemented", sluice: "connections are not aged out" },
  { name: "GRPC_MAX_CONNECTION_AGE_GRACE", kind: "not-implemented", sluice: "connections are not aged out" },
  {
    name: "GRPC_SERVER_USE_TLS",
    kind: "mapped",
    sluice: "turns on `--tls-cert`/`--tls-key` from the two below",
  },
  { name: "GRPC_SERVER_TLS_CERT", kind: "mapped", sluice: "`--tls-cert` (with GRPC_SERVER_USE_TLS=true)" },
  { name: "GRPC_SERVER_TLS_KEY", kind: "mapped", sluice: "`--tls-key` (with GRPC_SERVER_USE_TLS=true)" },
  {
    name: "GRPC_CLIENT_TLS_CACERT",
    kind: "mapped",
    sluice: "`--tls-client-ca` (with GRPC_SERVER_USE_TLS=true)",
  },
  {
    name: "GRPC_CLIENT_TLS_SAN",
    kind: "not-implemented",
    sluice: "client certificates are checked against the CA only",
    inert: is(""),
  },
  {
    name: "LOG_LEVEL",
    kind: "mapped",
    sluice: "`--log-level` (panic reads as fatal, warning as warn; any case)",
  },
  {
    name: "LOG_FORMAT",
    kind: "mapped",
    sluice: "`--log-format`: json, anything else text (as the reference reads it)",
  },
  {
    name: "CONFIG_TYPE",
    kind: "not-implemented",
    sluice: "policy comes from files only; FILE is what Sluice does",
    inert: is("file"),
  },
  {
    name: "FORCE_START_WITHOUT_INITIAL_CONFIG",
    kind: "not-implemented",
    sluice: "Sluice does not start without a policy",
    inert: off,
  },
  ...[
    "CONFIG_GRPC_XDS_NODE_ID",
    "CONFIG_GRPC_XDS_NODE_METADATA",
    "CONFIG_GRPC_XDS_SERVER_URL",
    "CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL",
    "CONFIG_GRPC_XDS_CLIENT_ADDITIONAL_HEADERS",
    "CONFIG_GRPC_XDS_SERVER_USE_TLS",
    "CONFIG_GRPC_XDS_CLIENT_TLS_CERT",
    "CONFIG_GRPC_XDS_CLIENT_TLS_KEY",
    "CONFIG_GRPC_XDS_SERVER_TLS_CACERT",
    "CONFIG_GRPC_XDS_SERVER_TLS_SAN",
    "XDS_CLIENT_BACKOFF_INITIAL_INTERVAL",
    "XDS_CLIENT_BACKOFF_MAX_INTERVAL",
    "XDS_CLIENT_BACKOFF_RANDOM_FACTOR",
    "XDS_CLIENT_BACKOFF_JITTER",
    "XDS_CLIENT_MAX_MSG_SIZE_IN_BYTES",
  ].map((name): ReferenceSetting => ({ name, kind: "not-needed", sluice: XDS })),
  { name: "USE_DOG_STATSD", kind: "not-implemented", sluice: STATSD, inert: off },
  {
    name: "USE_DOG_STATSD_MOGRIFIERS",
    kind: "not-needed",
    sluice: "read only with USE_DOG_STATSD=true (warned about)",
  },
  { name: "USE_STATSD", kind: "not-implemented", sluice: STATSD, inert: off },
  { name: "STATSD_HOST", kind: "not-implemented", sluice: STATSD },
  { name: "STATSD_PORT", kind: "not-implemented", sluice: STATSD },
  {
    name: "EXTRA_TAGS",
    kind: "not-implemented",
    sluice: "no extra labels; add them with the scraper's relabelling",
    inert: is(""),
  },
  {
    name: "STATS_FLUSH_INTERVAL",
    kind: "not-needed",
    sluice: "metrics are pulled: current at every scrape of /metrics",
  },
  { name: "DISABLE_STATS", kind: "not-implemented", sluice: "/metrics is always served", inert: off },
  {
    name: "USE_PROMETHEUS",
    kind: "not-needed",
    sluice: "Prometheus metrics are always on, at the admin port's /metrics",
  },
  {
    name: "PROMETHEUS_ADDR",
    kind: "not-implemented",
    sluice: "no separate metrics listener: /metrics is on the admin port (PORT)",
  },
  { name: "PROMETHEUS_PATH", kind: "not-implemented", sluice: "the path is /metrics", inert: is("/metrics") },
  {
    name: "PROMETHEUS_MAPPER_YAML",
    kind: "not-implemented",
    sluice: "the reference's per-rule stats are exported under the default mapping's names only",
    inert: is(""),
  },
  {
    name: "RUNTIME_ROOT",
    kind: "mapped",
    sluice:
      "`--policy` is `$RUNTIME_ROOT/$RUNTIME_SUBDIRECTORY/$RUNTIME_APPDIRECTORY` when any of the three is set",
  },
  { name: "RUNTIME_SUBDIRECTORY", kind: "mapped", sluice: "`--policy`, as above" },
  { name: "RUNTIME_APPDIRECTORY", kind: "mapped", sluice: "`--policy`, as above (default config)" },
  {
    name: "RUNTIME_IGNOREDOTFILES",
    kind: "not-needed",
    sluice: "Sluice never reads dotfiles (a ConfigMap's `..data` entries)",
  },
  {
    name: "RUNTIME_WATCH_ROOT",
    kind: "not-needed",
    sluice: "Sluice watches the policy directory, which sees file edits and ConfigMap symlink swaps alike",
  },
  {
    name: "EXPIRATION_JITTER_MAX_SECONDS",
    kind: "not-needed",
    sluice:
      "jitter only spreads key expiry; every charge renews a Sluice key's TTL (2 windows + margin), so expiry already follows each key's own last hit",
  },
  {
    name: "LOCAL_CACHE_SIZE_IN_BYTES",
    kind: "mapped",
    sluice: "`--local-cache-size` in calls: bytes ÷ 1024 (0 turns it off)",
  },
  { name: "NEAR_LIMIT_RATIO", kind: "mapped", sluice: "`--near-limit-ratio`" },
  {
    name: "CACHE_KEY_PREFIX",
    kind: "not-implemented",
    sluice: "Sluice's keys are its own (`sluice:{…}`), never the reference's",
    inert: is(""),
  },
  { name: "BACKEND_TYPE", kind: "mapped", sluice: "redis is the only backend; memcache is refused at start" },
  {
    name: "STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT",
    kind: "not-implemented",
    sluice: "set `count_rejected: false` on the policy's rules instead",
    inert: off,
  },
  {
    name: "LIMIT_RESPONSE_HEADERS_ENABLED",
    kind: "mapped",
    sluice: "`--header-style`: true is envoy-ratelimit, false none",
  },
  { name: "LIMIT_LIMIT_HEADER", kind: "mapped", sluice: "`--limit-header`" },
  { name: "LIMIT_REMAINING_HEADER", kind: "mapped", sluice: "`--remaining-header`" },
  { name: "LIMIT_RESET_HEADER", kind: "mapped", sluice: "`--reset-header`" },
  {
    name: "HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED",
    kind: "not-needed",
    sluice: "Sluice is ready only once a policy is loaded, always",
  },
  {
    name: "REDIS_SOCKET_TYPE",
    kind: "mapped",
    sluice:
      "tcp, or unix for a single Redis: REDIS_URL is then the socket's path (`--redis-url unix:///PATH`)",
  },
  {
    name: "REDIS_TYPE",
    kind: "mapped",
    sluice:
      "single: `--redis-url`; cluster: `--redis-cluster`; sentinel: `--redis-sentinel` and `--redis-sentinel-master`",
  },
  {
    name: "REDIS_URL",
    kind: "mapped",
    sluice: "HOST:PORT (or a comma list; for sentinel MASTER,HOST:PORT,...) into the option REDIS_TYPE picks",
  },
  {
    name: "REDIS_POOL_SIZE",
    kind: "not-needed",
    sluice:
      "one pipelined connection per Redis node per worker; `--store-max-in-flight` bounds calls outstanding",
  },
  {
    name: "REDIS_AUTH",
    kind: "mapped",
    sluice:
      "`[user:]password` in the Redis URLs; with sentinel, `--redis-sentinel-master-password` (a password only)",
  },
  { name: "REDIS_TLS", kind: "mapped", sluice: "rediss:// in the Redis URLs (sentinels included)" },
  {
    name: "REDIS_TLS_CLIENT_CERT",
    kind: "not-implemented",
    sluice: "no client certificate to Redis",
    inert: is(""),
  },
  {
    name: "REDIS_TLS_CLIENT_KEY",
    kind: "not-implemented",
    sluice: "no client certificate to Redis",
    inert: is(""),
  },
  { name: "REDIS_TLS_CACERT", kind: "mapped", sluice: "`--redis-tls-ca`" },
  {
    name: "REDIS_TLS_SKIP_HOSTNAME_VERIFICATION",
    kind: "not-implemented",
    sluice: "Redis certificates are always verified",
    inert: off,
  },
  {
    name: "REDIS_PIPELINE_WINDOW",
    kind: "not-needed",
    sluice: "a call's counters go in one script call; ioredis writes without delay",
  },
  { name: "REDIS_PIPELINE_LIMIT", kind: "not-needed", sluice: "deprecated and unused by the reference too" },
  {
    name: "REDIS_PERSECOND",
    kind: "not-implemented",
    sluice: "per-second counters are kept with all others, in the one Redis",
    inert: off,
  },
  ...[
    "REDIS_PERSECOND_SOCKET_TYPE",
    "REDIS_PERSECOND_TYPE",
    "REDIS_PERSECOND_URL",
    "REDIS_PERSECOND_POOL_SIZE",
    "REDIS_PERSECOND_AUTH",
    "REDIS_PERSECOND_TLS",
    "REDIS_PERSECOND_SENTINEL_AUTH",
    "REDIS_PERSECOND_PIPELINE_WINDOW",
    "REDIS_PERSECOND_PIPELINE_LIMIT",
    "REDIS_PERSECOND_TIMEOUT",
    "REDIS_PERSECOND_POOL_ON_EMPTY_BEHAVIOR",
  ].map((name): ReferenceSetting => ({ name, kind: "not-needed", sluice: PER_SECOND })),
  {
    name: "REDIS_SENTINEL_AUTH",
    kind: "mapped",
    sluice: "the sentinels' `[user:]password`, in the first `--redis-sentinel` URL",
  },
  {
    name: "REDIS_HEALTH_CHECK_ACTIVE_CONNECTION",
    kind: "not-needed",
    sluice: "readiness always follows Redis (a PING every second)",
  },
  {
    name: "REDIS_TIMEOUT",
    kind: "mapped",
    sluice: "`--store-timeout-ms` (a Go duration; 0 leaves Sluice's default)",
  },
  { name: "REDIS_POOL_ON_EMPTY_BEHAVIOR", kind: "not-needed", sluice: "there is no pool to run empty" },
  ...[
    "MEMCACHE_HOST_PORT",
    "MEMCACHE_MAX_IDLE_CONNS",
    "MEMCACHE_SRV",
    "MEMCACHE_SRV_REFRESH",
    "MEMCACHE_TLS",
    "MEMCACHE_TLS_CLIENT_CERT",
    "MEMCACHE_TLS_CLIENT_KEY",
    "MEMCACHE_TLS_CACERT",
    "MEMCACHE_TLS_SKIP_HOSTNAME_VERIFICATION",
  ].map((name): ReferenceSetting => ({ name, kind: "not-needed", sluice: MEMCACHE })),
  { name: "SHADOW_MODE", kind: "mapped", sluice: "`--shadow-mode`" },
  { name: "QUOTA_MODE", kind: "not-implemented", sluice: "no service-wide quota mode", inert: off },
  {
    name: "RESPONSE_DYNAMIC_METADATA",
    kind: "not-implemented",
    sluice: "answers carry no dynamic metadata",
    inert: off,
  },
  { name: "MERGE_DOMAIN_CONFIG", kind: "mapped", sluice: "`--merge-domain-config`" },
  { name: "TRACING_ENABLED", kind: "not-implemented", sluice: "no OpenTelemetry tracing", inert: off },
  ...[
    "TRACING_SERVICE_NAME",
    "TRACING_SERVICE_NAMESPACE",
    "TRACING_SERVICE_INSTANCE_ID",
    "TRACING_EXPORTER_PROTOCOL",
    "TRACING_SAMPLING_RATE",
  ].map((name): ReferenceSetting => ({ name, kind: "not-needed", sluice: TRACING })),
];

/** The migration guide's table: one row per variable, in settings.go's order. */
export function referenceSettingsTable(): string {
  const kinds = {
    mapped: "mapped",
    "not-needed": "not needed",
    "not-implemented": "not implemented (warned)",
  };
  return [
    "| envoyproxy/ratelimit | Sluice | what Sluice does |",
    "|---|---|---|",
    ...REFERENCE_SETTINGS.map(
      (s) => `| \`${s.name}\` | ${kinds[s.kind]} | ${s.sluice.replaceAll("|", "\\|")} |`,
    ),
  ].join("\n");
}
