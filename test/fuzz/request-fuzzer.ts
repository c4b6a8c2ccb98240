import {
  type RateLimitDescriptor,
  RateLimitDescriptor_Entry,
} from "../../src/generated/envoy/extensions/common/ratelimit/v3/ratelimit.ts";
import { RateLimitRequest } from "../../src/generated/envoy/service/ratelimit/v3/rls.ts";

/**
 * Reproducible RateLimitRequest cases for the fuzz suite: structured requests near and beyond every
 * limit, the same requests' bytes mutated, and plain random bytes, each with what the service must
 * answer. The expectations are written out here from the protocol and the documented limits, not
 * taken from the service's own validation code.
 */

/** The service's documented defaults (README "Reliability"). */
export const LIMITS = {
  maxDescriptors: 64,
  maxEntries: 16,
  maxKeyBytes: 256,
  maxValueBytes: 1024,
  maxMessageBytes: 64 * 1024,
};

export type Expectation =
  /** A valid call: an OK or OVER_LIMIT answer with one status per descriptor. */
  | { readonly kind: "decision"; readonly descriptors: number }
  | { readonly kind: "invalid" }
  | { readonly kind: "too-big" }
  /** Bytes of unknown meaning: any answer, or a clean refusal. */
  | { readonly kind: "any" };

export interface FuzzCase {
  readonly bytes: Buffer;
  readonly expect: Expectation;
  /** What made it, for failure messages. */
  readonly origin: "structured" | "mutated" | "random";
}

export type Random = () => number;

/** mulberry32: a small, fast 32-bit PRNG; every case gets its own stream from (seed, index). */
export function prng(seed: number, index: number): Random {
  let state = (seed + Math.imul(index, 0x9e3779b1)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const int = (rng: Random, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: Random, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;

const DOMAINS = ["api", "rel-default", "rel-allow", "rel-deny", "rel-local", "unknown-domain"];
const KEYS = ["tenant", "plan", "route", "remote_address", "api_key", "user", "strict", "generic_key"];
/** Characters that have broken key schemes elsewhere: separators, braces (Cluster hash tags), NUL, emoji. */
const ODD = ["*", ":", "{", "}", "|", "\u0000", "\n", "é", "中", "😀", "\ud800", " ", "%", "\\"];

function text(rng: Random, length: number): string {
  let out = "";
  while (out.length < length) {
    out += rng() < 0.8 ? String.fromCharCode(int(rng, 97, 122)) : pick(rng, ODD);
  }
  return out;
}

/** Mostly short, sometimes right at or past a byte limit. */
function sized(rng: Random, limit: number): string {
  const r = rng();
  if (r < 0.97) return text(rng, int(rng, 0, 12));
  if (r < 0.985) return "x".repeat(int(rng, limit - 2, limit + 2));
  return text(rng, int(rng, 13, limit + 64));
}

function count(rng: Random, limit: number): number {
  const r = rng();
  if (r < 0.5) return 1;
  if (r < 0.9) return int(rng, 2, 4);
  if (r < 0.93) return 0;
  if (r < 0.98) return int(rng, 5, limit);
  return int(rng, limit + 1, limit + 6);
}

function descriptor(rng: Random): RateLimitDescriptor {
  const entries = Array.from({ length: count(rng, LIMITS.maxEntries) }, () =>
    RateLimitDescriptor_Entry.create({
      key: rng() < 0.7 ? pick(rng, KEYS) : sized(rng, LIMITS.maxKeyBytes),
      value: sized(rng, LIMITS.maxValueBytes),
    }),
  );
  return {
    entries,
    // Units 0, 8 and 9 are not units: refused.
    limit:
      rng() < 0.1 ? { requestsPerUnit: int(rng, 0, 4_294_967_295), unit: int(rng, 0, 9) as 1 } : undefined,
    hitsAddend: rng() < 0.1 ? int(rng, 0, 1_000_000) : undefined,
  };
}

/** Anything goes: every part is drawn independently, so a request is often wrong in several ways. */
function chaoticRequest(rng: Random): RateLimitRequest {
  const r = rng();
  const domain = r < 0.85 ? pick(rng, DOMAINS) : r < 0.9 ? "" : sized(rng, LIMITS.maxKeyBytes);
  return {
    domain,
    descriptors: Array.from({ length: count(rng, LIMITS.maxDescriptors) }, () => descriptor(rng)),
    hitsAddend: rng() < 0.1 ? int(rng, 0, 4_294_967_295) : 0,
  };
}

/** Every part within the limits, often exactly at one of them. */
function validRequest(rng: Random): RateLimitRequest {
  const atLimit = (limit: number) => (rng() < 0.02 ? limit : int(rng, 1, Math.min(limit, 4)));
  const valueOf = () => (rng() < 0.01 ? "v".repeat(LIMITS.maxValueBytes) : text(rng, int(rng, 0, 12)));
  const keyOf = () =>
    rng() < 0.03 ? "k".repeat(LIMITS.maxKeyBytes) : rng() < 0.8 ? pick(rng, KEYS) : `k${text(rng, 6)}`;
  return {
    domain: rng() < 0.03 ? "d".repeat(LIMITS.maxKeyBytes) : pick(rng, DOMAINS),
    descriptors: Array.from({ length: atLimit(LIMITS.maxDescriptors) }, () => ({
      entries: Array.from({ length: atLimit(LIMITS.maxEntries) }, () => ({ key: keyOf(), value: valueOf() })),
      limit: rng() < 0.1 ? { requestsPerUnit: int(rng, 0, 1000), unit: int(rng, 1, 7) as 1 } : undefined,
      hitsAddend: rng() < 0.1 ? int(rng, 0, 10) : undefined,
    })),
    hitsAddend: rng() < 0.1 ? int(rng, 0, 10) : 0,
  };
}

/** A valid request broken in exactly one way, so each limit is seen on its own. */
function oneViolation(rng: Random): RateLimitRequest {
  const request = validRequest(rng);
  const descriptors = [...request.descriptors];
  const at = int(rng, 0, descriptors.length - 1);
  const d = descriptors[at] as RateLimitDescriptor;
  const entryAt = int(rng, 0, d.entries.length - 1);
  const withEntry = (change: Partial<RateLimitDescriptor_Entry>) => {
    const entries = d.entries.map((e, j) => (j === entryAt ? { ...e, ...change } : e));
    descriptors[at] = { ...d, entries };
  };
  switch (int(rng, 0, 9)) {
    case 0:
      return { ...request, domain: "" };
    case 1:
      return { ...request, domain: "d".repeat(LIMITS.maxKeyBytes + 1) };
    case 2:
      return { ...request, descriptors: [] };
    case 3: {
      const small = { entries: [{ key: "user", value: "u" }] };
      return { ...request, descriptors: Array.from({ length: LIMITS.maxDescriptors + 1 }, () => small) };
    }
    case 4:
      descriptors[at] = { ...d, entries: [] };
      break;
    case 5:
      descriptors[at] = {
        ...d,
        entries: Array.from({ length: LIMITS.maxEntries + 1 }, () => ({ key: "k", value: "v" })),
      };
      break;
    case 6:
      withEntry({ key: "" });
      break;
    case 7:
      withEntry({ key: "é".repeat(LIMITS.maxKeyBytes / 2) + "k" });
      break;
    case 8:
      withEntry({ value: "v".repeat(LIMITS.maxValueBytes + 1) });
      break;
    default:
      descriptors[at] = { ...d, limit: { requestsPerUnit: 1, unit: pick(rng, [0, 8, 9, 1000]) as 1 } };
  }
  return { ...request, descriptors };
}

function structuredRequest(rng: Random): RateLimitRequest {
  // One in five hundred is a request of valid parts that is too big as a whole.
  if (rng() < 0.002) {
    const big = { entries: [{ key: "user", value: "v".repeat(1_000) }] };
    return { domain: "api", descriptors: Array.from({ length: 64 }, () => big), hitsAddend: 0 };
  }
  const r = rng();
  if (r < 0.4) return validRequest(rng);
  if (r < 0.7) return oneViolation(rng);
  return chaoticRequest(rng);
}

const utf8 = (s: string) => Buffer.byteLength(s, "utf8");

/** What the service must answer to a structured request, from the protocol and the limits. */
export function expectationOf(request: RateLimitRequest, encodedBytes: number): Expectation {
  // grpc-js refuses a message over its limit before decoding it; near the limit, allow either.
  if (encodedBytes > LIMITS.maxMessageBytes + 16) return { kind: "too-big" };
  if (encodedBytes > LIMITS.maxMessageBytes - 16) return { kind: "any" };
  const valid =
    request.domain !== "" &&
    utf8(request.domain) <= LIMITS.maxKeyBytes &&
    request.descriptors.length >= 1 &&
    request.descriptors.length <= LIMITS.maxDescriptors &&
    request.descriptors.every(
      (d) =>
        d.entries.length >= 1 &&
        d.entries.length <= LIMITS.maxEntries &&
        d.entries.every(
          (e) => e.key !== "" && utf8(e.key) <= LIMITS.maxKeyBytes && utf8(e.value) <= LIMITS.maxValueBytes,
        ) &&
        (d.limit === undefined || (d.limit.unit >= 1 && d.limit.unit <= 7)),
    );
  return valid ? { kind: "decision", descriptors: request.descriptors.length } : { kind: "invalid" };
}

function mutate(rng: Random, bytes: Buffer): Buffer {
  let out = Buffer.from(bytes);
  for (let n = int(rng, 1, 4); n > 0; n--) {
    const at = int(rng, 0, Math.max(0, out.length - 1));
    switch (int(rng, 0, 5)) {
      case 0:
        if (out.length > 0) out[at] = (out[at] as number) ^ (1 << int(rng, 0, 7));
        break;
      case 1:
        if (out.length > 0) out[at] = int(rng, 0, 255);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + int(rng, 1, 16))]);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), randomBytes(rng, int(rng, 1, 16)), out.subarray(at)]);
        break;
      case 4:
        out = out.subarray(0, at);
        break;
      default:
        // A field claiming a length far beyond the message: varint 0xFFFFFFFF.
        out = Buffer.concat([out, Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f])]);
    }
  }
  return out;
}

function randomBytes(rng: Random, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => int(rng, 0, 255)));
}

/** Case `index` of the run seeded `seed`: about 55 % structured, 35 % mutated, 10 % random bytes. */
export function fuzzCase(seed: number, index: number): FuzzCase {
  const rng = prng(seed, index);
  const r = rng();
  if (r < 0.1)
    return { bytes: randomBytes(rng, int(rng, 0, 512)), expect: { kind: "any" }, origin: "random" };
  const request = structuredRequest(rng);
  const bytes = Buffer.from(RateLimitRequest.encode(request).finish());
  if (r < 0.45) return { bytes: mutate(rng, bytes), expect: { kind: "any" }, origin: "mutated" };
  return { bytes, expect: expectationOf(request, bytes.length), origin: "structured" };
}
