import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  RateLimitRequest,
  RateLimitResponse,
  RateLimitServiceService,
} from "../../generated/envoy/service/ratelimit/v3/rls.ts";

/**
 * Encodes a RateLimitResponse message through one reused BinaryWriter (encode-decision.ts falls
 * back to it for values it does not encode itself). The generated serializer starts a new writer per
 * reply, whose buffer grows 128 → 256 → 512 bytes by reallocation, then copies the result twice
 * (finish() and Buffer.from): four buffer allocations per call, a visible share of the garbage
 * collector's work at 10,000s of calls a second. Here the buffer is allocated once and grows to the
 * largest reply; each reply costs one copy. Encoding is synchronous, so one writer per process is safe.
 */
const writer = new BinaryWriter();

export function serializeRateLimitResponse(response: RateLimitResponse): Buffer {
  const bytes = RateLimitResponse.encode(response, writer).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A request message longer than `--max-message-bytes`, left undecoded. */
export class OversizedRequest {
  readonly bytes: number;
  readonly maxBytes: number;
  constructor(bytes: number, maxBytes: number) {
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/**
 * The generated service definition with two changes: replies arrive already encoded (the handler
 * encodes its decision with encode-decision.ts), so the serializer passes the bytes through; and a
 * request deserializer that does not decode a message over `maxMessageBytes`, so the handler can
 * refuse it with INVALID_ARGUMENT naming the limit (grpc-js's own bound, further out, answers
 * RESOURCE_EXHAUSTED).
 */
export function rateLimitServiceDefinition(maxMessageBytes: number) {
  return {
    ...RateLimitServiceService,
    shouldRateLimit: {
      ...RateLimitServiceService.shouldRateLimit,
      requestDeserialize: (value: Buffer): RateLimitRequest | OversizedRequest =>
        value.length > maxMessageBytes
          ? new OversizedRequest(value.length, maxMessageBytes)
          : RateLimitRequest.decode(value),
      responseSerialize: (reply: Buffer): Buffer => reply,
    },
  } as const;
}
