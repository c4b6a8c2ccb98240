import { type CallDescriptor, InvalidRequestError, type RateLimitCall } from "../../limiter/limiter-types.ts";
import type { DescriptorEntry } from "../../policy/policy-types.ts";
import { decodeUtf8Lossless } from "./lossless-utf8.ts";
import { overrideUnit } from "./proto-mapping.ts";

/**
 * Decodes a RateLimitRequest message straight into the call the core decides: what the generated
 * decoder then toRateLimitCall give for the same bytes (the test checks it), except where a client
 * could turn that into an error or a shared counter:
 *
 * - uint64 costs beyond 2^53 (a descriptor's hits_addend may come from a request header) are read
 *   as Number.MAX_SAFE_INTEGER instead of failing the call. Limits are uint32, so any cost of 2^32
 *   or more is above every limit, and this keeps it there: OVER_LIMIT, without Retry-After.
 * - The request's hits_addend is a uint32 field; a larger varint there saturates the same way
 *   rather than keeping its low 32 bits, which would turn a cost of 2^32 into 0 (that is, 1).
 * - Strings are decoded by lossless-utf8.ts, so values whose bytes differ stay apart.
 * - A message protobuf cannot parse (truncated, a length past its end, wire type 6 or 7, a varint
 *   over 10 bytes, field 0, a stray end-group) throws InvalidRequestError, answered
 *   INVALID_ARGUMENT and counted, where grpc-js would answer INTERNAL uncounted.
 *
 * As in the generated decoder, unknown fields and known field numbers with another wire type are
 * skipped, a repeated singular field keeps its last value, and uint32/enum fields keep a varint's low
 * 32 bits. Requests arrive on every call, so this is on the hot path: one reader object per
 * call, no subarray per string, short ASCII strings copied without a call into C++ (about half the
 * generated decoder's time for the benchmark's requests, measured on a loaded machine).
 *
 * Field numbers, from proto/:
 *   RateLimitRequest: domain 1, descriptors 2, hits_addend 3 (uint32)
 *   RateLimitDescriptor: entries 1, limit 2, hits_addend 3 (google.protobuf.UInt64Value: value 1)
 *   Entry: key 1, value 2;  RateLimitOverride: requests_per_unit 1 (uint32), unit 2 (enum)
 */
export function decodeRequest(message: Buffer): RateLimitCall {
  const r: Reader = { bytes: message, at: 0 };
  let domain = "";
  const descriptors: CallDescriptor[] = [];
  let hitsAddend = 0;
  const end = message.length;
  while (r.at < end) {
    const tag = readTag(r);
    if (tag === 10) domain = readString(r);
    else if (tag === 18) descriptors.push(readDescriptor(r, readEnd(r), descriptors.length));
    else if (tag === 24) hitsAddend = readVarint(r);
    else skipField(r, tag, 0);
  }
  return { domain, descriptors, hitsAddend };
}

/** The message being decoded and the read position in it, passed down the readers. */
interface Reader {
  readonly bytes: Buffer;
  at: number;
}

/** Group nesting skipped in unknown fields before the message is refused as too deep. */
const MAX_GROUP_DEPTH = 32;

function readDescriptor(r: Reader, end: number, index: number): CallDescriptor {
  const entries: DescriptorEntry[] = [];
  let limitOverride: CallDescriptor["limitOverride"];
  let hitsAddend: number | undefined;
  while (r.at < end) {
    const tag = readTag(r);
    if (tag === 10) entries.push(readEntry(r, readEnd(r)));
    else if (tag === 18) limitOverride = readOverride(r, readEnd(r), index);
    else if (tag === 26) hitsAddend = readUInt64Value(r, readEnd(r));
    else skipField(r, tag, 0);
  }
  assertEnd(r, end);
  return { entries, limitOverride, hitsAddend };
}

function readEntry(r: Reader, end: number): DescriptorEntry {
  let key = "";
  let value = "";
  while (r.at < end) {
    const tag = readTag(r);
    if (tag === 10) key = readString(r);
    else if (tag === 18) value = readString(r);
    else skipField(r, tag, 0);
  }
  assertEnd(r, end);
  return { key, value };
}

function readOverride(r: Reader, end: number, index: number): CallDescriptor["limitOverride"] {
  let requestsPerUnit = 0;
  let unit = 0;
  while (r.at < end) {
    const tag = readTag(r);
    if (tag === 8) requestsPerUnit = readVarint32(r) >>> 0;
    else if (tag === 16) unit = readVarint32(r) | 0;
    else skipField(r, tag, 0);
  }
  assertEnd(r, end);
  return { requestsPerUnit, unit: overrideUnit(unit, index) };
}

function readUInt64Value(r: Reader, end: number): number {
  let value = 0;
  while (r.at < end) {
    const tag = readTag(r);
    if (tag === 8) value = readVarint(r);
    else skipField(r, tag, 0);
  }
  assertEnd(r, end);
  return value;
}

function readString(r: Reader): string {
  const end = readEnd(r);
  const start = r.at;
  r.at = end;
  return decodeUtf8Lossless(r.bytes, start, end);
}

/** Reads a length prefix; returns where the field's content ends. */
function readEnd(r: Reader): number {
  const length = readVarint(r);
  if (length > r.bytes.length - r.at) throw malformed(r, "a length runs past the end of the message");
  return r.at + length;
}

/** A nested message must end exactly where its length said. */
function assertEnd(r: Reader, end: number): void {
  if (r.at !== end) throw malformed(r, "a field runs past the end of its message");
}

function readTag(r: Reader): number {
  const tag = readVarint(r);
  if (tag > 0xffff_ffff || tag < 8) throw malformed(r, `invalid tag ${tag}`);
  return tag;
}

/** Skips an unknown field (or a known one sent with another wire type), as protobuf does. */
function skipField(r: Reader, tag: number, depth: number): void {
  switch (tag % 8) {
    case 0:
      readVarint(r);
      return;
    case 1:
      advance(r, 8);
      return;
    case 2:
      r.at = readEnd(r);
      return;
    case 3:
      return skipGroup(r, Math.floor(tag / 8), depth + 1);
    case 5:
      advance(r, 4);
      return;
    default:
      throw malformed(r, tag % 8 === 4 ? "an end-group tag without its start" : `wire type ${tag % 8}`);
  }
}

function skipGroup(r: Reader, field: number, depth: number): void {
  if (depth > MAX_GROUP_DEPTH) throw malformed(r, "groups nested too deep");
  for (;;) {
    if (r.at >= r.bytes.length) throw malformed(r, "a group without its end");
    const tag = readTag(r);
    if (tag % 8 === 4) {
      if (Math.floor(tag / 8) !== field) throw malformed(r, "an end-group tag of another field");
      return;
    }
    skipField(r, tag, depth);
  }
}

function advance(r: Reader, count: number): void {
  if (count > r.bytes.length - r.at) throw malformed(r, "the message ends inside a field");
  r.at += count;
}

/**
 * A varint as a number: exact below 2^53, Number.MAX_SAFE_INTEGER from there on (up to 2^64 − 1
 * and the extra bits a 10-byte varint can carry). Adding 7-bit groups times powers of two is exact
 * while the sum stays below 2^53 and, rounding to nearest, never falls back below it after.
 */
function readVarint(r: Reader): number {
  const first = r.bytes[r.at];
  if (first !== undefined && first < 0x80) {
    r.at++;
    return first;
  }
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = r.bytes[r.at++];
    if (byte === undefined) throw malformed(r, "the message ends inside a varint");
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : value;
    scale *= 128;
  }
  throw malformed(r, "a varint longer than 10 bytes");
}

/** A varint's low 32 bits (as an int32 bit pattern), as protobuf reads uint32 and enum fields. */
function readVarint32(r: Reader): number {
  let value = 0;
  for (let i = 0; i < 10; i++) {
    const byte = r.bytes[r.at++];
    if (byte === undefined) throw malformed(r, "the message ends inside a varint");
    if (i < 5) value |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) return value;
  }
  throw malformed(r, "a varint longer than 10 bytes");
}

function malformed(r: Reader, reason: string): InvalidRequestError {
  return new InvalidRequestError(`malformed request message: ${reason} (at byte ${r.at})`);
}
