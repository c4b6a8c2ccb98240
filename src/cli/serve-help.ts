import { OPTIONS, type OptionName, type OptionSpec } from "../settings/options.ts";

/**
 * `sluice serve --help`, generated from the settings table (settings.ts), so a flag, its variable,
 * its default and its description cannot disagree with what the parser does.
 */
export function serveHelp(): string {
  return [
    "usage: sluice serve --policy PATH [flags]",
    "",
    "Answers Envoy's envoy.service.ratelimit.v3 ShouldRateLimit calls over gRPC (with grpc.health.v1 and",
    "reflection) and serves /healthz, /readyz and /metrics over HTTP. Every flag can also be set by its",
    "environment variable; a flag wins over the environment. --flag=VALUE and --flag VALUE both work.",
    "Variables after 'ratelimit' are envoyproxy/ratelimit's, read below Sluice's own so that its environment",
    "serves unchanged (docs/migrating-from-envoy-ratelimit.md maps every one of them).",
    "",
    "Flags:",
    ...Object.keys(OPTIONS).map((name) => describeFlag(name as OptionName)),
  ].join("\n");
}

/** One flag's entry: `--flag VALUE  (env VAR; default D)`, then what it does, indented. */
export function describeFlag(name: OptionName): string {
  const option: OptionSpec = OPTIONS[name];
  const reference = option.referenceEnv === undefined ? "" : `; ratelimit ${option.referenceEnv.join(", ")}`;
  const fallback =
    option.default === undefined ? (option.defaultText ?? "no default") : `default ${option.default}`;
  const repeat = option.repeat ? " (repeatable)" : "";
  return `  ${option.flag} ${option.value}${repeat}  (env ${option.env}${reference}; ${fallback})\n      ${option.help}`;
}
