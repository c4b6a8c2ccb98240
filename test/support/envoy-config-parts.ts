import type { HostPort } from "./envoy.ts";

// Pieces shared by the configs the tests render for Envoy filters of their own (RLQS, RLS), so each
// renderer holds only its filter.

export const TYPE_URL = "type.googleapis.com";

export function socketAddress(at: HostPort) {
  return { socket_address: { address: at.host, port_value: at.port } };
}

/** A static cluster of one endpoint; `http2` for a gRPC service, which needs HTTP/2. */
export function staticCluster(name: string, at: HostPort, http2: boolean) {
  return {
    name,
    type: "STATIC",
    connect_timeout: "0.25s",
    ...(http2
      ? {
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": `${TYPE_URL}/envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        }
      : {}),
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(at) } }] }],
    },
  };
}

export const ROUTER_FILTER = {
  name: "envoy.filters.http.router",
  typed_config: { "@type": `${TYPE_URL}/envoy.extensions.filters.http.router.v3.Router` },
};

export interface ListenerConfigValues {
  readonly listener: HostPort;
  readonly admin: HostPort;
  readonly upstream: HostPort;
  /** The gRPC service the filter asks, as cluster `name`. */
  readonly service: { readonly name: string; readonly at: HostPort };
  /** The filters before the router. */
  readonly filters: readonly unknown[];
  /** The route's own fields besides `cluster` (e.g. the RLS filter's `rate_limits`). */
  readonly route?: Record<string, unknown>;
}

/** One listener, every path routed to the upstream through the given filters, and the clusters. */
export function listenerConfig(values: ListenerConfigValues) {
  const connectionManager = {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": `${TYPE_URL}/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
      stat_prefix: "ingress",
      route_config: {
        virtual_hosts: [
          {
            name: "all",
            domains: ["*"],
            routes: [{ match: { prefix: "/" }, route: { cluster: "upstream", ...values.route } }],
          },
        ],
      },
      http_filters: [...values.filters, ROUTER_FILTER],
    },
  };
  return {
    admin: { address: socketAddress(values.admin) },
    static_resources: {
      listeners: [
        {
          name: "ingress",
          address: socketAddress(values.listener),
          filter_chains: [{ filters: [connectionManager] }],
        },
      ],
      clusters: [
        staticCluster("upstream", values.upstream, false),
        staticCluster(values.service.name, values.service.at, true),
      ],
    },
  };
}
