import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { type Deadline, status } from "@grpc/grpc-js";
import { sendTrailersOnly } from "./trailers-only.ts";

/**
 * One unary gRPC call served straight on its HTTP/2 stream, without grpc-js's per-call machinery
 * (an intercepting call, metadata objects, a read queue, a deadline timer and listeners per stream:
 * about 35 µs of CPU per call, more than Sluice's own decision; bench/RESULTS.md, "the transport").
 * It speaks the same protocol (PROTOCOL-HTTP2.md of grpc/grpc) for the one case Envoy's rate-limit
 * filter sends: an uncompressed request message, a reply message and an OK status, or a status alone.
 * Everything else on the connection stays with grpc-js (stream-router.ts).
 */
export interface UnaryCall {
  /** The request message's bytes. */
  readonly request: Buffer;
  /** True once the client reset the stream or the connection closed. */
  readonly cancelled: boolean;
  getDeadline(): Deadline;
  once(event: "cancelled", listener: () => void): unknown;
}

/** grpc-js's `sendUnaryData`, narrowed to what Sluice sends: bytes already encoded, or a status. */
export type UnaryCallback = (error: { code: status; details: string } | null, reply?: Buffer | null) => void;

export type UnaryHandler = (call: UnaryCall, callback: UnaryCallback) => void;

/** Whether the call is one this module serves; the rest (compressed, not POST, not gRPC) go to grpc-js. */
export function isPlainUnaryRequest(headers: IncomingHttpHeaders): boolean {
  const contentType = headers["content-type"];
  const encoding = headers["grpc-encoding"];
  return (
    headers[":method"] === "POST" &&
    typeof contentType === "string" &&
    contentType.startsWith("application/grpc") &&
    (encoding === undefined || encoding === "identity")
  );
}

const REPLY_HEADERS = Object.freeze({
  ":status": 200,
  "content-type": "application/grpc+proto",
  "grpc-accept-encoding": "identity,deflate,gzip",
  "grpc-encoding": "identity",
});
const OK_TRAILERS = Object.freeze({ "grpc-status": "0", "grpc-message": "OK" });
const WITH_TRAILERS = Object.freeze({ waitForTrailers: true });

// grpc-timeout: up to 8 digits and a unit (PROTOCOL-HTTP2.md); grpc-js reads it the same way.
const TIMEOUT = /^(\d{1,8})\s*([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

const SECOND_MESSAGE = "Received a second request message for a unary method";

/** The 5-byte prefix of a gRPC message: a compressed flag and a big-endian length. */
const PREFIX_BYTES = 5;

class StreamCall implements UnaryCall {
  request: Buffer = EMPTY;
  readonly #stream: ServerHttp2Stream;
  readonly #deadline: Deadline;

  constructor(stream: ServerHttp2Stream, deadline: Deadline) {
    this.#stream = stream;
    this.#deadline = deadline;
  }

  get cancelled(): boolean {
    return this.#stream.closed || this.#stream.destroyed;
  }

  getDeadline(): Deadline {
    return this.#deadline;
  }

  once(_event: "cancelled", listener: () => void): this {
    // 'close' also follows a reply; by then nobody listens for a cancel any more.
    this.#stream.once("close", listener);
    return this;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads the request message from the stream, hands it to `handler` and writes its reply. The
 * receive ceiling is grpc-js's `grpc.max_receive_message_length`: a larger message is refused
 * unread with RESOURCE_EXHAUSTED, as grpc-js does.
 */
export function serveUnaryStream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  handler: UnaryHandler,
  maxReceiveBytes: number,
): void {
  // Errors on the stream are followed by 'close', which is the cancellation; without a listener
  // an 'error' event would be thrown.
  stream.on("error", ignore);
  stream.once("close", letGoNextTurn);
  const timeout = headers["grpc-timeout"];
  let deadline: Deadline = Number.POSITIVE_INFINITY;
  if (timeout !== undefined) {
    const match = TIMEOUT.exec(String(timeout).trim());
    if (match === null)
      return sendTrailersOnly(stream, status.INTERNAL, `Invalid grpc-timeout value "${timeout}"`);
    deadline = Date.now() + ((Number(match[1]) * (UNIT_MS[match[2] as string] as number)) | 0);
  }
  const call = new StreamCall(stream, deadline);
  // Chunks are kept and joined once: the message is refused as soon as its prefix declares more than
  // the ceiling, or more bytes arrive than one message holds, so nothing unbounded is buffered.
  const chunks: Buffer[] = [];
  let total = 0;
  let declared = -1;
  stream.on("data", (chunk: Buffer) => {
    if (stream.headersSent) return;
    chunks.push(chunk);
    total += chunk.length;
    if (declared < 0 && total >= PREFIX_BYTES) {
      declared = (chunks.length === 1 ? chunk : Buffer.concat(chunks, total)).readUInt32BE(1);
      if (declared > maxReceiveBytes) {
        chunks.length = 0;
        return sendTrailersOnly(
          stream,
          status.RESOURCE_EXHAUSTED,
          `Received message larger than max (${declared} vs ${maxReceiveBytes})`,
        );
      }
    }
    if (declared >= 0 && total > PREFIX_BYTES + declared) {
      chunks.length = 0;
      sendTrailersOnly(stream, status.UNIMPLEMENTED, SECOND_MESSAGE);
    }
  });
  stream.on("end", () => {
    if (stream.headersSent) return;
    const received = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
    const problem = messageProblem(received);
    if (problem !== undefined) return sendTrailersOnly(stream, problem.code, problem.details);
    call.request = received.subarray(PREFIX_BYTES);
    try {
      handler(call, (error, reply) => {
        if (stream.closed || stream.destroyed || stream.headersSent) return;
        if (error !== null) return sendTrailersOnly(stream, error.code, error.details);
        sendMessage(stream, reply ?? EMPTY);
      });
    } catch (error: unknown) {
      sendTrailersOnly(stream, status.INTERNAL, `Server method handler threw error ${String(error)}`);
    }
  });
}

/**
 * A unary request is exactly one uncompressed message; anything else is refused as grpc-js does.
 * Bytes beyond one message were refused as they arrived (serveUnaryStream's 'data' listener).
 */
function messageProblem(received: Buffer): { code: status; details: string } | undefined {
  if (received.length === 0) return { code: status.UNIMPLEMENTED, details: "Received no request message" };
  if (received.length < PREFIX_BYTES || received.length < PREFIX_BYTES + received.readUInt32BE(1)) {
    return { code: status.INTERNAL, details: "Truncated request message" };
  }
  if (received[0] !== 0) {
    return { code: status.INTERNAL, details: "Received a compressed message without a grpc-encoding" };
  }
  return undefined;
}

function sendMessage(stream: ServerHttp2Stream, message: Buffer): void {
  const framed = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, PREFIX_BYTES);
  stream.respond(REPLY_HEADERS, WITH_TRAILERS);
  // 'wantTrailers' comes once per stream: a shared listener, no closure or once-wrapper per call.
  stream.on("wantTrailers", sendOkTrailers);
  stream.end(framed);
}

function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

function ignore(): void {}

/**
 * Drops every listener of a closed stream, a turn after its 'close' (so every 'close' listener has
 * run), keeping only the error guard. A closed stream outlives the young-generation collections
 * (only a full one frees it), and so did whatever its listeners held: the scavenges copied and
 * promoted all of it, which made their pauses the latency tail (bench/RESULTS.md, "A closed stream's
 * listeners"). Nothing is emitted on a stream after 'close' but, at most, an error.
 */
function letGoNextTurn(this: ServerHttp2Stream): void {
  setImmediate(letGo, this);
}

function letGo(stream: ServerHttp2Stream): void {
  stream.removeAllListeners();
  stream.on("error", ignore);
}
