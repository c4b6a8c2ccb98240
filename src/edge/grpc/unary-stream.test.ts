import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPlainUnaryRequest, serveUnaryStream, type UnaryCall, type UnaryHandler } from "./unary-stream.ts";

const PATH = "/test.Echo/Unary";
const CEILING = 1024;

/** The handler the server runs: set per test. */
let handler: UnaryHandler = (call, callback) => callback(null, call.request);
const server = http2.createServer();
server.on("stream", (stream, headers) => serveUnaryStream(stream, headers, handler, CEILING));
/** The last stream the server served, to look at after its call. */
let lastStream: http2.ServerHttp2Stream | undefined;
server.on("stream", (stream) => {
  lastStream = stream;
});
let client: http2.ClientHttp2Session;

beforeAll(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(() => {
  client.close();
  server.close();
});

const message = (body: Buffer) => {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
};

interface Answer {
  headers: http2.IncomingHttpHeaders;
  trailers?: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One call; `chunks` are written as separate DATA frames. */
async function call(chunks: Buffer[], extra: Record<string, string> = {}): Promise<Answer> {
  const stream = client.request({
    ":method": "POST",
    ":path": PATH,
    "content-type": "application/grpc",
    te: "trailers",
    ...extra,
  });
  const parts: Buffer[] = [];
  const answer: Partial<Answer> = {};
  stream.on("response", (headers) => {
    answer.headers = headers;
  });
  stream.on("trailers", (trailers) => {
    answer.trailers = trailers;
  });
  stream.on("data", (chunk: Buffer) => parts.push(chunk));
  for (const chunk of chunks) {
    stream.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  stream.end();
  await once(stream, "close");
  return { ...(answer as Answer), body: Buffer.concat(parts) };
}

const grpcStatus = (a: Answer) => a.trailers?.["grpc-status"] ?? a.headers["grpc-status"];

describe("serveUnaryStream", () => {
  it("answers the message with headers, one length-prefixed message and OK trailers", async () => {
    handler = (c, callback) => callback(null, Buffer.concat([Buffer.from("re:"), c.request]));
    const answer = await call([message(Buffer.from("hello"))]);
    expect(answer.headers).toMatchObject({ ":status": 200, "content-type": "application/grpc+proto" });
    expect(answer.body).toEqual(message(Buffer.from("re:hello")));
    expect(answer.trailers).toMatchObject({ "grpc-status": "0" });
  });

  it("reassembles a message split over several DATA frames", async () => {
    handler = (c, callback) => callback(null, c.request);
    const whole = message(Buffer.from("a message in three parts"));
    const answer = await call([whole.subarray(0, 3), whole.subarray(3, 10), whole.subarray(10)]);
    expect(answer.body).toEqual(whole);
  });

  it("answers a handler's error as a status alone, its details percent-encoded", async () => {
    handler = (_c, callback) => callback({ code: status.INVALID_ARGUMENT, details: "bad value: 50 %" });
    const answer = await call([message(Buffer.from("x"))]);
    expect(answer.body.length).toBe(0);
    expect(answer.headers["grpc-status"]).toBe(String(status.INVALID_ARGUMENT));
    expect(decodeURI(String(answer.headers["grpc-message"]))).toBe("bad value: 50 %");
  });

  it("answers INTERNAL when the handler throws, and keeps serving", async () => {
    handler = () => {
      throw new Error("boom");
    };
    expect(grpcStatus(await call([message(Buffer.from("x"))]))).toBe(String(status.INTERNAL));
    handler = (c, callback) => callback(null, c.request);
    expect(grpcStatus(await call([message(Buffer.from("x"))]))).toBe("0");
  });

  it.each([
    ["no message", [], status.UNIMPLEMENTED],
    ["two messages", [message(Buffer.from("a")), message(Buffer.from("b"))], status.UNIMPLEMENTED],
    ["a truncated prefix", [Buffer.from([0, 0, 0])], status.INTERNAL],
    ["a body shorter than its prefix says", [Buffer.from([0, 0, 0, 0, 9, 1])], status.INTERNAL],
    ["a compressed flag without an encoding", [Buffer.from([1, 0, 0, 0, 1, 7])], status.INTERNAL],
    ["a message over the ceiling", [Buffer.from([0, 0, 0, 4, 1])], status.RESOURCE_EXHAUSTED],
  ])("refuses %s without calling the handler", async (_name, chunks, code) => {
    let called = false;
    handler = (_c, callback) => {
      called = true;
      callback(null, Buffer.alloc(0));
    };
    const answer = await call(chunks);
    expect(grpcStatus(answer)).toBe(String(code));
    expect(called).toBe(false);
  });

  it("reads grpc-timeout into the call's deadline; none means Infinity", async () => {
    const deadlines: number[] = [];
    handler = (c, callback) => {
      deadlines.push(Number(c.getDeadline()));
      callback(null, Buffer.alloc(0));
    };
    const before = Date.now();
    await call([message(Buffer.alloc(0))], { "grpc-timeout": "250m" });
    await call([message(Buffer.alloc(0))], { "grpc-timeout": "2S" });
    await call([message(Buffer.alloc(0))]);
    expect(deadlines[0]).toBeGreaterThanOrEqual(before + 250);
    expect(deadlines[0]).toBeLessThan(Date.now() + 250);
    expect(deadlines[1]).toBeGreaterThanOrEqual(before + 2000);
    expect(deadlines[2]).toBe(Number.POSITIVE_INFINITY);
  });

  it("refuses a malformed grpc-timeout with INTERNAL, as grpc-js does", async () => {
    const answer = await call([message(Buffer.alloc(0))], { "grpc-timeout": "soon" });
    expect(grpcStatus(answer)).toBe(String(status.INTERNAL));
  });

  it("tells the handler when the client resets the stream, and sends nothing after", async () => {
    let held: { call: UnaryCall; reply: () => void } | undefined;
    const cancelled = new Promise<void>((resolve) => {
      handler = (c, callback) => {
        c.once("cancelled", resolve);
        held = { call: c, reply: () => callback(null, Buffer.from("late")) };
      };
    });
    const stream = client.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc" });
    stream.end(message(Buffer.from("x")));
    await new Promise<void>((resolve) => {
      const wait = () => (held ? resolve() : setTimeout(wait, 5));
      wait();
    });
    expect(held?.call.cancelled).toBe(false);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await cancelled;
    expect(held?.call.cancelled).toBe(true);
    expect(() => held?.reply()).not.toThrow();
  });
});

describe("a closed stream", () => {
  const afterClose = async (stream: http2.ServerHttp2Stream) => {
    if (!stream.closed) await once(stream, "close");
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  };

  it("keeps no listener but its error guard once the call is answered", async () => {
    handler = (c, callback) => callback(null, c.request);
    await call([message(Buffer.from("done"))]);
    const stream = lastStream as http2.ServerHttp2Stream;
    await afterClose(stream);
    expect(stream.eventNames()).toEqual(["error"]);
    expect(stream.listenerCount("error")).toBe(1);
    expect(() => stream.emit("error", new Error("late"))).not.toThrow();
  });

  it("keeps none either after the client reset it, and the late reply is dropped", async () => {
    let reply: (() => void) | undefined;
    handler = (_c, callback) => {
      reply = () => callback(null, Buffer.from("late"));
    };
    const request = client.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc" });
    request.end(message(Buffer.from("x")));
    while (reply === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    request.close(http2.constants.NGHTTP2_CANCEL);
    const stream = lastStream as http2.ServerHttp2Stream;
    await afterClose(stream);
    expect(stream.eventNames()).toEqual(["error"]);
    expect(() => reply?.()).not.toThrow();
  });
});

describe("isPlainUnaryRequest", () => {
  it.each([
    [{ ":method": "POST", "content-type": "application/grpc" }, true],
    [{ ":method": "POST", "content-type": "application/grpc+proto" }, true],
    [{ ":method": "POST", "content-type": "application/grpc", "grpc-encoding": "identity" }, true],
    [{ ":method": "POST", "content-type": "application/grpc", "grpc-encoding": "gzip" }, false],
    [{ ":method": "POST", "content-type": "text/plain" }, false],
    [{ ":method": "POST" }, false],
    [{ ":method": "GET", "content-type": "application/grpc" }, false],
  ])("%j → %s", (headers, plain) => {
    expect(isPlainUnaryRequest(headers)).toBe(plain);
  });
});
