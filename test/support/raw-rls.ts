import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";

/**
 * RateLimitRequest bytes written by hand, field by field, and a client that sends them as they
 * are. Neither the generated encoder nor proto-loader can put what a hostile or buggy client sends
 * on the wire: a string field holding bytes that are not UTF-8 (0xff), a uint64 beyond 2^53, a
 * truncated message. Field numbers are rls.proto's and ratelimit.proto's.
 */

export const METHOD = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

/** A string field's content: text (sent as UTF-8) or raw bytes. */
export type Bytes = string | Buffer | readonly number[];

export interface RawDescriptor {
  readonly entries: readonly { readonly key: Bytes; readonly value: Bytes }[];
  /** RateLimitDescriptor.limit: requests_per_unit and the RateLimitUnit number (2 = MINUTE). */
  readonly limit?: { readonly requestsPerUnit: number; readonly unit: number };
  /** RateLimitDescriptor.hits_addend, a UInt64Value. */
  readonly hitsAddend?: bigint;
}

export interface RawRequest {
  readonly domain: Bytes;
  readonly descriptors: readonly RawDescriptor[];
  /** RateLimitRequest.hits_addend (uint32 in rls.proto; any varint can be sent). */
  readonly hitsAddend?: bigint;
}

export const UINT64_MAX = 2n ** 64n - 1n;

/** A base-128 varint: 7 bits per byte, low bits first, the high bit marking "more follows". */
export function varint(value: bigint | number): Buffer {
  let rest = BigInt(value);
  const out: number[] = [];
  while (rest >= 128n) {
    out.push(Number(rest & 127n) | 128);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return Buffer.from(out);
}

const bytesOf = (b: Bytes): Buffer => (typeof b === "string" ? Buffer.from(b, "utf8") : Buffer.from(b));

/** Field `field` with wire type 2 (length-delimited). */
export function lengthField(field: number, content: Bytes): Buffer {
  const payload = bytesOf(content);
  return Buffer.concat([varint((field << 3) | 2), varint(payload.length), payload]);
}

/** Field `field` with wire type 0 (varint). */
export function varintField(field: number, value: bigint | number): Buffer {
  return Buffer.concat([varint(field << 3), varint(value)]);
}

export function encodeDescriptor(d: RawDescriptor): Buffer {
  const parts = d.entries.map((e) =>
    lengthField(1, Buffer.concat([lengthField(1, e.key), lengthField(2, e.value)])),
  );
  if (d.limit !== undefined) {
    const { requestsPerUnit, unit } = d.limit;
    parts.push(lengthField(2, Buffer.concat([varintField(1, requestsPerUnit), varintField(2, unit)])));
  }
  if (d.hitsAddend !== undefined) parts.push(lengthField(3, varintField(1, d.hitsAddend)));
  return Buffer.concat(parts);
}

export function encodeRequest(r: RawRequest): Buffer {
  const parts = [lengthField(1, r.domain), ...r.descriptors.map((d) => lengthField(2, encodeDescriptor(d)))];
  if (r.hitsAddend !== undefined) parts.push(varintField(3, r.hitsAddend));
  return Buffer.concat(parts);
}

export interface RawReply {
  readonly error?: ServiceError;
  /** The RateLimitResponse bytes of an answer. */
  readonly response?: Buffer;
}

/** A client that sends request bytes as given and hands back the reply's bytes undecoded. */
export interface RawRlsClient {
  send(bytes: Buffer, timeoutMs?: number): Promise<RawReply>;
  close(): void;
}

export function createRawRlsClient(address: string): RawRlsClient {
  const client = new Client(address, credentials.createInsecure());
  return {
    send: (bytes, timeoutMs = 10_000) =>
      new Promise((resolve) => {
        client.makeUnaryRequest<Buffer, Buffer>(
          METHOD,
          (b) => b,
          (b) => b,
          bytes,
          new Metadata(),
          { deadline: Date.now() + timeoutMs },
          (error, response) => resolve(error ? { error } : { response }),
        );
      }),
    close: () => client.close(),
  };
}
