import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
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

/**
 * The generated service definition with both directions left as bytes: the handler decodes the
 * request itself (decode-request.ts), so a message that is too long or not protobuf is refused with
 * INVALID_ARGUMENT and counted like any invalid call (a throwing deserializer makes grpc-js answer
 * INTERNAL, outside the handler), and it encodes its decision itself (encode-decision.ts).
 */
export const rateLimitServiceDefinition = {
  ...RateLimitServiceService,
  shouldRateLimit: {
    ...RateLimitServiceService.shouldRateLimit,
    requestDeserialize: (value: Buffer): Buffer => value,
    responseSerialize: (reply: Buffer): Buffer => reply,
  },
} as const;
