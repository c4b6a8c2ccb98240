import { constants, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { type Server, status } from "@grpc/grpc-js";
import { sendTrailersOnly } from "./trailers-only.ts";

type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => void;

/** A route in front of grpc-js: `serve` takes the streams `wants` picks, grpc-js keeps the rest. */
export interface StreamRoute {
  readonly path: string;
  wants(headers: IncomingHttpHeaders): boolean;
  serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
}

/**
 * Puts `route` in front of grpc-js on every HTTP/2 server `server` has bound: streams for the
 * route's path that it wants are served by it, every other stream (health, reflection, the quota
 * service, compressed or malformed calls) by grpc-js as before. grpc-js still owns the listening
 * sockets, TLS, sessions, keepalive and shutdown.
 *
 * grpc-js has no public hook for this: its HTTP/2 servers are the private `http2Servers` map and
 * each has exactly one 'stream' listener, its dispatcher. This is the one place that knows; the
 * shape is checked and a mismatch (a grpc-js upgrade changed it) stops the start with an error
 * rather than serving without the route. Call it after `bindAsync` has bound.
 */
export function routeStreams(server: Server, route: StreamRoute): void {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    throw new Error("grpc-js internals changed: no bound HTTP/2 servers (http2Servers) to route streams on");
  }
  // grpc-js's idle-connection accounting (grpc.max_connection_idle_ms) counts the streams it opens;
  // the routed ones are counted the same way.
  const streamOpened = (server as unknown as { onStreamOpened?: unknown }).onStreamOpened;
  if (typeof streamOpened !== "function") {
    throw new Error("grpc-js internals changed: no onStreamOpened to count routed streams with");
  }
  for (const http2Server of servers.keys() as IterableIterator<Http2Server>) {
    const listeners = http2Server.listeners("stream") as StreamListener[];
    const grpcJs = listeners[0];
    if (listeners.length !== 1 || grpcJs === undefined) {
      throw new Error(
        `grpc-js internals changed: expected one 'stream' listener on its HTTP/2 server, found ${listeners.length}`,
      );
    }
    http2Server.removeListener("stream", grpcJs);
    http2Server.on(
      "stream",
      (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
        if (headers[":path"] !== route.path || !route.wants(headers)) {
          return grpcJs.call(http2Server, stream, headers, ...rest);
        }
        try {
          streamOpened.call(server, stream);
          route.serve(stream, headers);
        } catch {
          // A defect in the route ends its stream with INTERNAL, never the process.
          if (stream.headersSent) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
          else sendTrailersOnly(stream, status.INTERNAL, "internal error");
        }
      },
    );
  }
}
