import { stringify } from "yaml";
import type { HostPort } from "./envoy.ts";
import { listenerConfig, TYPE_URL } from "./envoy-config-parts.ts";

export interface RlqsEnvoyConfigValues {
  readonly listener: HostPort;
  readonly admin: HostPort;
  /** The Rate Limit Quota Service (the recording stand-in). */
  readonly rlqs: HostPort;
  readonly upstream: HostPort;
  /** How often Envoy reports each bucket's usage, as an Envoy duration (default 1s). */
  readonly reportingInterval?: string;
}

/** The header the bucket id's `tenant` comes from. */
export const TENANT_HEADER = "x-tenant";
export const RLQS_DOMAIN = "sluice";
/** Body of the filter's own 429, so a test can tell it from any other. */
export const DENY_BODY = "quota exhausted (rlqs)";

const TYPE = TYPE_URL;
const headerInput = {
  name: "tenant",
  typed_config: {
    "@type": `${TYPE}/envoy.type.matcher.v3.HttpRequestHeaderMatchInput`,
    header_name: TENANT_HEADER,
  },
};
const BLANKET = (rule: "ALLOW_ALL" | "DENY_ALL") => ({ fallback_rate_limit: { blanket_rule: rule } });

/**
 * The bucket settings for each tenant-name prefix: one Envoy serves every experiment, each on
 * tenants of its own. The order matters: Envoy's matcher list takes the first match.
 */
export const BUCKET_KINDS = {
  /** No assignment yet: deny. Expiry: the bucket is abandoned (no expired_assignment_behavior). */
  "denyfirst-": { no_assignment_behavior: BLANKET("DENY_ALL") },
  /** Expiry: keep the last assignment for 3 s more. */
  "reuse-": {
    expired_assignment_behavior: { reuse_last_assignment: {}, expired_assignment_behavior_timeout: "3s" },
  },
  /** Expiry: deny all for 2 s, then back to no assignment. */
  "fallback-": {
    expired_assignment_behavior: { ...BLANKET("DENY_ALL"), expired_assignment_behavior_timeout: "2s" },
  },
  /** Expiry: deny all, with no timeout. */
  "fallbacknotimeout-": { expired_assignment_behavior: BLANKET("DENY_ALL") },
  /** No assignment yet: allow. Expiry: the bucket is abandoned. */
  "": { no_assignment_behavior: BLANKET("ALLOW_ALL") },
} as const;

/**
 * A listener with only the rate_limit_quota filter in front of the upstream: a request with an
 * x-tenant header falls in bucket {name: tenant, tenant: <header>}; one without falls in none and is
 * let through unreported.
 */
export function renderRlqsEnvoyConfig(values: RlqsEnvoyConfigValues): string {
  const matchers = Object.entries(BUCKET_KINDS).map(([prefix, settings]) => ({
    predicate: {
      single_predicate: {
        input: headerInput,
        value_match: { safe_regex: { google_re2: {}, regex: `^${prefix}.+` } },
      },
    },
    on_match: {
      action: {
        name: `bucket-${prefix || "default"}`,
        typed_config: {
          "@type": `${TYPE}/envoy.extensions.filters.http.rate_limit_quota.v3.RateLimitQuotaBucketSettings`,
          bucket_id_builder: {
            bucket_id_builder: { name: { string_value: "tenant" }, tenant: { custom_value: headerInput } },
          },
          reporting_interval: values.reportingInterval ?? "1s",
          deny_response_settings: {
            http_status: { code: 429 },
            http_body: { value: Buffer.from(DENY_BODY).toString("base64") },
          },
          ...settings,
        },
      },
    },
  }));
  const config = listenerConfig({
    ...values,
    service: { name: "rlqs", at: values.rlqs },
    filters: [
      {
        name: "envoy.filters.http.rate_limit_quota",
        typed_config: {
          "@type": `${TYPE}/envoy.extensions.filters.http.rate_limit_quota.v3.RateLimitQuotaFilterConfig`,
          rlqs_server: { envoy_grpc: { cluster_name: "rlqs" } },
          domain: RLQS_DOMAIN,
          bucket_matchers: { matcher_list: { matchers } },
        },
      },
    ],
  });
  // No YAML anchors: the rendered text is quoted in docs/rlqs-findings.md and read by people.
  return stringify(config, { aliasDuplicateObjects: false });
}
