import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadPolicies } from "../../src/policy/load-policies.ts";
import {
  type EnvoyConfigValues,
  renderEnvoyConfig,
  renderTemplate,
  validateEnvoyConfig,
} from "../support/envoy.ts";

// envoy/envoy.yaml as the tests and `npm run stack` render it, checked by the real Envoy 1.40 binary
// (`envoy --mode validate`), and its rate-limit wiring read back from the rendered YAML.
const loopback: EnvoyConfigValues = {
  listener: { host: "127.0.0.1", port: 10000 },
  admin: { host: "127.0.0.1", port: 9901 },
  sluice: { host: "127.0.0.1", port: 8081 },
  upstream: { host: "127.0.0.1", port: 8080 },
};

interface RateLimitAction {
  generic_key?: { descriptor_key: string; descriptor_value: string };
  request_headers?: { header_name: string; descriptor_key: string };
  remote_address?: object;
}
interface Route {
  match: { path: string };
  route: { cluster: string; rate_limits: { actions: RateLimitAction[]; apply_on_stream_done?: boolean }[] };
}
interface HttpFilter {
  name: string;
  typed_config: Record<string, unknown>;
}

function httpConnectionManager(config: string) {
  const bootstrap = parse(config);
  return bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config as {
    use_remote_address: boolean;
    xff_num_trusted_hops: number;
    route_config: { virtual_hosts: { routes: Route[] }[] };
    http_filters: HttpFilter[];
  };
}

function rateLimitFilter(config: string): Record<string, unknown> {
  const filter = httpConnectionManager(config).http_filters.find(
    (f) => f.name === "envoy.filters.http.ratelimit",
  );
  if (filter === undefined) throw new Error("no envoy.filters.http.ratelimit filter");
  return filter.typed_config;
}

/**
 * Each rate_limits entry of a route as the descriptor it makes, e.g. `tenant,plan,route=leads`;
 * an entry sent when the stream ends (apply_on_stream_done) is prefixed `done:`.
 */
function descriptorsOf(route: Route): string[] {
  return route.route.rate_limits.map(
    (limit) =>
      (limit.apply_on_stream_done ? "done:" : "") +
      limit.actions
        .map((action) => {
          if (action.generic_key)
            return `${action.generic_key.descriptor_key}=${action.generic_key.descriptor_value}`;
          if (action.request_headers) return action.request_headers.descriptor_key;
          if (action.remote_address) return "remote_address";
          return JSON.stringify(action);
        })
        .join(","),
  );
}

describe("envoy/envoy.yaml", () => {
  it("renders to a config the real Envoy accepts", async () => {
    const result = await validateEnvoyConfig(renderEnvoyConfig(loopback));
    expect(result.output).toContain("OK");
    expect(result.ok).toBe(true);
  });

  it("renders a deny variant the real Envoy accepts, differing only in failure_mode_deny", async () => {
    const open = renderEnvoyConfig(loopback);
    const deny = renderEnvoyConfig({ ...loopback, failureModeDeny: true });
    expect(rateLimitFilter(open).failure_mode_deny).toBe(false);
    expect(rateLimitFilter(deny).failure_mode_deny).toBe(true);
    expect(deny.replace("failure_mode_deny: true", "failure_mode_deny: false")).toBe(open);
    expect((await validateEnvoyConfig(deny)).ok).toBe(true);
  });

  it("is really checked: Envoy rejects a rendering with a bad value", async () => {
    const broken = renderTemplate({
      LISTENER_HOST: "127.0.0.1",
      LISTENER_PORT: "10000",
      ADMIN_HOST: "127.0.0.1",
      ADMIN_PORT: "9901",
      SLUICE_HOST: "127.0.0.1",
      SLUICE_PORT: "8081",
      UPSTREAM_HOST: "127.0.0.1",
      UPSTREAM_PORT: "8080",
      RLS_TIMEOUT: "soon",
    });
    const result = await validateEnvoyConfig(broken);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/timeout|Duration/i);
  });

  it("refuses to render when a placeholder has no value, naming it", () => {
    expect(() => renderTemplate({ LISTENER_HOST: "127.0.0.1" })).toThrow(/SLUICE_HOST is not set/);
  });

  it("asks Sluice for domain api over gRPC with a sub-second timeout that covers the lease queue, failing open, adding no headers itself", async () => {
    const config = renderEnvoyConfig(loopback);
    const filter = rateLimitFilter(config);
    expect(filter.domain).toBe("api");
    expect(filter.failure_mode_deny).toBe(false);
    expect(filter).not.toHaveProperty("enable_x_ratelimit_headers");
    const timeoutSeconds = Number(String(filter.timeout).replace(/s$/, ""));
    // A request queued for a concurrency lease is answered after at most its queue_timeout; Envoy
    // must still be waiting then, with room to spare, or it lets the request through unlimited.
    const queueSeconds = await longestQueueTimeoutSeconds();
    expect(queueSeconds).toBe(0.5);
    expect(timeoutSeconds).toBeGreaterThanOrEqual(queueSeconds + 0.2);
    expect(timeoutSeconds).toBeLessThan(1);
    expect(filter.rate_limit_service).toEqual({
      transport_api_version: "V3",
      grpc_service: { envoy_grpc: { cluster_name: "sluice" } },
    });
    const clusters = parse(config).static_resources.clusters as {
      name: string;
      typed_extension_protocol_options?: unknown;
    }[];
    const sluice = clusters.find((c) => c.name === "sluice");
    expect(JSON.stringify(sluice?.typed_extension_protocol_options)).toContain("http2_protocol_options");
  });

  it("sets tenant and plan in Lua before the rate-limit filter reads them, then routes", () => {
    const names = httpConnectionManager(renderEnvoyConfig(loopback)).http_filters.map((f) => f.name);
    expect(names).toEqual([
      "envoy.filters.http.lua",
      "envoy.filters.http.ratelimit",
      "envoy.filters.http.router",
    ]);
  });

  it("keys the health limit on the TCP peer, trusting no x-forwarded-for", () => {
    const manager = httpConnectionManager(renderEnvoyConfig(loopback));
    expect(manager.use_remote_address).toBe(true);
    expect(manager.xff_num_trusted_hops).toBe(0);
  });

  it("sends the sample policy's descriptors from each route", () => {
    const routes =
      httpConnectionManager(renderEnvoyConfig(loopback)).route_config.virtual_hosts[0]?.routes ?? [];
    const byPath = Object.fromEntries(routes.map((route) => [route.match.path, descriptorsOf(route)]));
    const tenantRoute = (route: string) => [
      "tenant,plan",
      `tenant,plan,route=${route}`,
      "api_key",
      "tenant,plan,lease_acquire",
      "done:tenant,plan,lease_release",
    ];
    expect(byPath).toEqual({
      "/api/health": ["route=health,remote_address"],
      "/v1/leads/bulk": tenantRoute("bulk"),
      "/v1/leads": tenantRoute("leads"),
      "/v1/contacts": tenantRoute("contacts"),
    });
  });
});

/** The longest queue_timeout in the sample policy, in seconds. */
async function longestQueueTimeoutSeconds(): Promise<number> {
  const loaded = await loadPolicies([fileURLToPath(new URL("../../deploy/policies", import.meta.url))]);
  if (!loaded.ok) throw new Error("the sample policy does not load");
  const tenant = [{ key: "tenant", value: "any" }];
  const plans = ["free", "starter", "pro", "enterprise"];
  const timeouts = plans.map(
    (plan) =>
      loaded.table.match("api", [...tenant, { key: "plan", value: plan }])?.concurrency?.queueTimeoutMs ?? 0,
  );
  return Math.max(...timeouts) / 1000;
}
