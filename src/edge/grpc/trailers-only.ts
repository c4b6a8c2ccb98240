import type { ServerHttp2Stream } from "node:http2";
import type { status } from "@grpc/grpc-js";

const END_STREAM = Object.freeze({ endStream: true });

/**
 * Ends a gRPC call with a status and no message: one HEADERS frame that ends the stream
 * ("Trailers-Only" in grpc/grpc's PROTOCOL-HTTP2.md), details percent-encoded as grpc-message.
 * Nothing is sent on a stream already answered or closed.
 */
export function sendTrailersOnly(stream: ServerHttp2Stream, code: status, details: string): void {
  if (stream.closed || stream.destroyed || stream.headersSent) return;
  stream.respond(
    {
      ":status": 200,
      "content-type": "application/grpc+proto",
      "grpc-status": String(code),
      "grpc-message": encodeURI(details),
    },
    END_STREAM,
  );
}
