import { stringify } from "yaml";
import type { HostPort } from "./envoy.ts";
import { listenerConfig, TYPE_URL } from "./envoy-config-parts.ts";
import { RLQS_DOMAIN, TENANT_HEADER } from "./rlqs-envoy-config.ts";

export interface RlsEnvoyConfigValues {
  readonly listener: HostPort;
  readonly admin: HostPort;
  /** The rate-limit service (Sluice's gRPC port). */
  readonly rls: HostPort;
  readonly upstream: HostPort;
}

/**
 * The per-request twin of renderRlqsEnvoyConfig: the same listener, upstream and domain, with
 * Envoy's http rate_limit filter asking Sluice about every request that carries an x-tenant header
 * (descriptor [(tenant, <header>)], the entries the RLQS bucket id reaches in the same policy). A
 * request without the header makes no descriptor and is let through unasked, as in the RLQS config.
 */
export function renderRlsEnvoyConfig(values: RlsEnvoyConfigValues): string {
  const config = listenerConfig({
    ...values,
    service: { name: "rls", at: values.rls },
    route: {
      rate_limits: [
        { actions: [{ request_headers: { header_name: TENANT_HEADER, descriptor_key: "tenant" } }] },
      ],
    },
    filters: [
      {
        name: "envoy.filters.http.ratelimit",
        typed_config: {
          "@type": `${TYPE_URL}/envoy.extensions.filters.http.ratelimit.v3.RateLimit`,
          domain: RLQS_DOMAIN,
          // Fail open, as envoy/envoy.yaml does; a timeout wide enough for a busy test machine.
          timeout: "1s",
          failure_mode_deny: false,
          rate_limit_service: {
            transport_api_version: "V3",
            grpc_service: { envoy_grpc: { cluster_name: "rls" } },
          },
        },
      },
    ],
  });
  return stringify(config, { aliasDuplicateObjects: false });
}
