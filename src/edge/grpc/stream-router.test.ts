import { once } from "node:events";
import http2 from "node:http2";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { routeStreams } from "./stream-router.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.forceShutdown();
});

/** A grpc-js server with one bytes-in, bytes-out unary method at /test.Svc/Grpc, bound on port 0. */
async function grpcJsServer(): Promise<{ server: Server; port: number }> {
  const server = new Server();
  servers.push(server);
  const bytes = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b };
  const method = { ...bytes, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
  server.addService(
    { grpc: { path: "/test.Svc/Grpc", requestStream: false, responseStream: false, ...method } },
    {
      grpc: (_call: unknown, callback: (e: null, r: Buffer) => void) =>
        callback(null, Buffer.from("grpc-js")),
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { server, port };
}

async function post(port: number, path: string, contentType = "application/grpc") {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": contentType,
      te: "trailers",
    });
    const parts: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
    await once(stream, "close");
    return {
      body: Buffer.concat(parts).subarray(5).toString(),
      status: trailers["grpc-status"] ?? headers["grpc-status"],
    };
  } finally {
    session.close();
  }
}

describe("routeStreams", () => {
  it("serves the route's streams itself and leaves every other stream to grpc-js", async () => {
    const { server, port } = await grpcJsServer();
    routeStreams(server, {
      path: "/test.Svc/Routed",
      wants: (headers) => headers["content-type"] === "application/grpc",
      serve: (stream) => {
        stream.respond(
          { ":status": 200, "content-type": "application/grpc", "grpc-status": "0" },
          { endStream: true },
        );
      },
    });
    expect(await post(port, "/test.Svc/Routed")).toEqual({ body: "", status: "0" });
    expect(await post(port, "/test.Svc/Grpc")).toEqual({ body: "grpc-js", status: "0" });
    // Not wanted by the route: grpc-js answers, here UNIMPLEMENTED (it has no such method).
    expect(await post(port, "/test.Svc/Routed", "application/grpc+proto")).toMatchObject({ status: "12" });
  });

  it("ends a stream whose route throws, and the server keeps serving", async () => {
    const { server, port } = await grpcJsServer();
    routeStreams(server, {
      path: "/test.Svc/Routed",
      wants: () => true,
      serve: () => {
        throw new Error("defect");
      },
    });
    expect(await post(port, "/test.Svc/Routed")).toEqual({ body: "", status: "13" });
    expect(await post(port, "/test.Svc/Grpc")).toEqual({ body: "grpc-js", status: "0" });
  });

  it("refuses a server that has bound nothing rather than serving without the route", () => {
    const server = new Server();
    servers.push(server);
    expect(() => routeStreams(server, { path: "/x/Y", wants: () => true, serve: () => {} })).toThrow(
      /grpc-js internals changed/,
    );
  });

  it("finds the one dispatcher grpc-js installs on each bound server (its version's shape)", async () => {
    // If a grpc-js upgrade changes where its HTTP/2 servers live or how streams reach it, this fails
    // here, not in production: routeStreams checks the same shape at start.
    const { server } = await grpcJsServer();
    const servers = (server as unknown as { http2Servers: Map<http2.Http2Server, unknown> }).http2Servers;
    expect(servers.size).toBe(1);
    for (const h2 of servers.keys()) expect(h2.listenerCount("stream")).toBe(1);
  });
});
