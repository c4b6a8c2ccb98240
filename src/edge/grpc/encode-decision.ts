import type { Decision, DescriptorStatus, Header } from "../../limiter/limiter-types.ts";
import { REPLY_UNIT, replyCode, resetDuration, toRateLimitResponse } from "./proto-mapping.ts";
import { serializeRateLimitResponse } from "./service-definition.ts";

/**
 * Encodes a decision as the RateLimitResponse message, straight into one buffer of the exact size:
 * the same bytes as toRateLimitResponse then the generated encoder (fields in the generated order),
 * without the intermediate message objects, the writer's fork/join per nested message and an
 * encoder call per string. The reply is built for every call, so this is on the hot path.
 *
 * Field numbers, from proto/envoy/service/ratelimit/v3/rls.proto:
 *   RateLimitResponse: overall_code 1, statuses 2, response_headers_to_add 3,
 *     request_headers_to_add 4, raw_body 5
 *   DescriptorStatus: code 1, current_limit 2, limit_remaining 3, duration_until_reset 4
 *   RateLimit: requests_per_unit 1, unit 2, name 3 (the generated encoder writes name first)
 *   HeaderValue: key 1, value 2;  Duration: seconds 1, nanos 2
 * A value protobuf would encode otherwise than as a small non-negative varint (a negative or
 * fractional number, one beyond uint32) goes through the generated encoder, which checks it.
 */
export function encodeDecision(decision: Decision): Buffer {
  const size = responseSize(decision);
  if (size === undefined) return serializeRateLimitResponse(toRateLimitResponse(decision));
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  const overall = replyCode(decision.code);
  if (overall !== 0) at = varint(out, varint(out, at, 8), overall);
  decision.statuses.forEach((status, i) => {
    at = varint(out, varint(out, at, 18), statusSizes[i] as number);
    at = writeStatus(out, at, status);
  });
  for (const header of decision.responseHeaders) at = writeHeader(out, at, 26, header);
  for (const header of decision.requestHeaders) at = writeHeader(out, at, 34, header);
  const body = decision.body;
  if (body !== undefined && body.length !== 0) {
    at = varint(out, varint(out, at, 42), body.length);
    out.set(body, at);
  }
  return out;
}

/**
 * Each status's size, as responseSize found it for the reply being encoded, so the writing pass
 * does not compute it again. Encoding is synchronous: one array per process serves every reply.
 */
const statusSizes: number[] = [];

/** The message's size in bytes (filling statusSizes), or undefined when a value needs the generated encoder. */
function responseSize(decision: Decision): number | undefined {
  let size = fieldSize(replyCode(decision.code));
  statusSizes.length = 0;
  for (const status of decision.statuses) {
    const inner = statusSize(status);
    if (inner === undefined) return undefined;
    statusSizes.push(inner);
    size += lengthDelimited(inner);
  }
  for (const header of decision.responseHeaders) size += lengthDelimited(headerSize(header));
  for (const header of decision.requestHeaders) size += lengthDelimited(headerSize(header));
  const bodyLength = decision.body?.length ?? 0;
  if (bodyLength !== 0) size += lengthDelimited(bodyLength);
  return size;
}

function statusSize(status: DescriptorStatus): number | undefined {
  const limit = status.currentLimit;
  const remaining = status.limitRemaining;
  if (!isUint32(remaining)) return undefined;
  let size = fieldSize(replyCode(status.code)) + fieldSize(remaining);
  if (limit !== undefined) {
    if (!isUint32(limit.requestsPerUnit)) return undefined;
    size += lengthDelimited(limitSize(limit.requestsPerUnit, REPLY_UNIT[limit.unit], limit.name ?? ""));
  }
  if (status.durationUntilResetMs !== undefined) {
    const { seconds, nanos } = resetDuration(status.durationUntilResetMs);
    if (!(Number.isSafeInteger(seconds) && seconds >= 0 && isUint32(nanos))) return undefined;
    size += lengthDelimited(fieldSize(seconds) + fieldSize(nanos));
  }
  return size;
}

function writeStatus(out: Buffer, at: number, status: DescriptorStatus): number {
  const code = replyCode(status.code);
  if (code !== 0) at = varint(out, varint(out, at, 8), code);
  const limit = status.currentLimit;
  if (limit !== undefined) {
    const unit = REPLY_UNIT[limit.unit];
    const name = limit.name ?? "";
    at = varint(out, varint(out, at, 18), limitSize(limit.requestsPerUnit, unit, name));
    if (name !== "") at = writeString(out, at, 26, name);
    if (limit.requestsPerUnit !== 0) at = varint(out, varint(out, at, 8), limit.requestsPerUnit);
    if (unit !== 0) at = varint(out, varint(out, at, 16), unit);
  }
  if (status.limitRemaining !== 0) at = varint(out, varint(out, at, 24), status.limitRemaining);
  if (status.durationUntilResetMs !== undefined) {
    const { seconds, nanos } = resetDuration(status.durationUntilResetMs);
    at = varint(out, varint(out, at, 34), fieldSize(seconds) + fieldSize(nanos));
    if (seconds !== 0) at = varint(out, varint(out, at, 8), seconds);
    if (nanos !== 0) at = varint(out, varint(out, at, 16), nanos);
  }
  return at;
}

function limitSize(requestsPerUnit: number, unit: number, name: string): number {
  return stringSize(name) + fieldSize(requestsPerUnit) + fieldSize(unit);
}

function headerSize(header: Header): number {
  return stringSize(header.key) + stringSize(header.value);
}

function writeHeader(out: Buffer, at: number, tag: number, header: Header): number {
  at = varint(out, varint(out, at, tag), headerSize(header));
  if (header.key !== "") at = writeString(out, at, 10, header.key);
  if (header.value !== "") at = writeString(out, at, 18, header.value);
  return at;
}

function writeString(out: Buffer, at: number, tag: number, text: string): number {
  at = varint(out, varint(out, at, tag), utf8Length(text));
  if (!isAscii(text)) return at + out.write(text, at);
  // Header names, figures and limit names are ASCII: copied here, without a call into C++ each.
  for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
  return at;
}

function utf8Length(text: string): number {
  return isAscii(text) ? text.length : Buffer.byteLength(text);
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** A varint field with a one-byte tag, left out when 0 (proto3 default). */
function fieldSize(value: number): number {
  return value === 0 ? 0 : 1 + varintSize(value);
}

/** A string field with a one-byte tag, left out when empty. */
function stringSize(text: string): number {
  return text === "" ? 0 : lengthDelimited(utf8Length(text));
}

/** A length-delimited field with a one-byte tag and `length` bytes of content. */
function lengthDelimited(length: number): number {
  return 1 + varintSize(length) + length;
}

function isUint32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest >= 128; rest = Math.floor(rest / 128)) size++;
  return size;
}

/** Writes a non-negative integer below 2^53 as a varint; returns the position after it. */
function varint(out: Buffer, at: number, value: number): number {
  let rest = value;
  while (rest >= 128) {
    out[at++] = (rest % 128) | 128;
    rest = Math.floor(rest / 128);
  }
  out[at++] = rest;
  return at;
}
