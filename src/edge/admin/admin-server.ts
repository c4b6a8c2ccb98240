import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "../../metrics/metrics.ts";
import type { HostPort } from "../../settings/settings.ts";

export interface AdminState {
  /**
   * Why the instance cannot answer calls now (the /readyz body), undefined when it can: the same
   * answer gRPC health gives (src/cli/readiness.ts).
   */
  notReady(): string | undefined;
}

/**
 * Routes served beside the built-in ones (question-route.ts): answers true when it took the request.
 * Asked first, whatever the method, so a route may take POST.
 */
export type AdminRoute = (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;

export interface RunningAdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The admin HTTP edge: liveness, readiness and Prometheus metrics. Kept on its own address so it
 * can be bound to loopback or a cluster-internal interface separately from the gRPC port.
 */
export async function startAdminServer(
  addr: HostPort,
  {
    metrics,
    state,
    routes = [],
  }: { metrics: Pick<Metrics, "registry">; state: AdminState; routes?: readonly AdminRoute[] },
): Promise<RunningAdminServer> {
  const server = createServer(async (request, response) => {
    for (const extra of routes) if (await extra(request, response)) return;
    void route(request, response, metrics, state);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(addr.port, addr.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(
  request: IncomingMessage,
  response: ServerResponse,
  metrics: Pick<Metrics, "registry">,
  state: AdminState,
): Promise<void> {
  const path = (request.url ?? "/").split("?")[0];
  if (request.method !== "GET" && request.method !== "HEAD")
    return send(response, 405, "method not allowed\n");
  switch (path) {
    case "/healthz":
      return send(response, 200, "ok\n");
    case "/readyz": {
      const reason = state.notReady();
      return reason === undefined ? send(response, 200, "ready\n") : send(response, 503, `${reason}\n`);
    }
    // envoyproxy/ratelimit's health path, for probes kept from its Deployment: readiness, in its
    // words (200 OK, 500 when unhealthy).
    case "/healthcheck": {
      const reason = state.notReady();
      return reason === undefined ? send(response, 200, "OK") : send(response, 500, `${reason}\n`);
    }
    case "/metrics": {
      const body = await metrics.registry.metrics();
      return send(response, 200, body, metrics.registry.contentType);
    }
    default:
      return send(response, 404, "not found\n");
  }
}

function send(
  response: ServerResponse,
  status: number,
  body: string,
  contentType = "text/plain; charset=utf-8",
) {
  response.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  response.end(body);
}
