import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { varint as rawVarint } from "../../../test/support/raw-rls.ts";
import { RateLimitRequest } from "../../generated/envoy/service/ratelimit/v3/rls.ts";
import type { RateLimitUnit } from "../../generated/envoy/type/v3/ratelimit_unit.ts";
import { InvalidRequestError, type RateLimitCall } from "../../limiter/limiter-types.ts";
import { decodeRequest } from "./decode-request.ts";
import { toRateLimitCall } from "./proto-mapping.ts";

/** What the generated decoder and the mapping make of the same bytes, or the error they throw. */
function generated(bytes: Buffer): RateLimitCall | string {
  try {
    return toRateLimitCall(RateLimitRequest.decode(bytes));
  } catch (error: unknown) {
    return (error as Error).message;
  }
}

function decoded(bytes: Buffer): RateLimitCall | string {
  try {
    return decodeRequest(bytes);
  } catch (error: unknown) {
    if (!(error instanceof InvalidRequestError)) throw error;
    return error.message;
  }
}

// Hand-encoded pieces (field numbers in decode-request.ts), for what the generated encoder cannot write.
const varint = (value: bigint): number[] => [...rawVarint(value)];
const length = (tag: number, content: readonly number[]) => [
  tag,
  ...varint(BigInt(content.length)),
  ...content,
];
const entry = (key: readonly number[], value: readonly number[]) =>
  length(10, [...length(10, key), ...length(18, value)]);
const ascii = (text: string) => [...Buffer.from(text)];
const request = (...descriptors: number[][]) =>
  Buffer.from([...length(10, ascii("api")), ...descriptors.flatMap((d) => length(18, d))]);
const withCost = (cost: bigint) => [...entry(ascii("k"), ascii("v")), ...length(26, [8, ...varint(cost)])];

const text = fc.string({ unit: "grapheme", maxLength: 12 });
const message = fc.record({
  domain: text,
  hitsAddend: fc.oneof(fc.constant(0), fc.nat(), fc.constantFrom(2 ** 31, 4_294_967_295)),
  descriptors: fc.array(
    fc.record({
      entries: fc.array(fc.record({ key: text, value: text }), { maxLength: 4 }),
      limit: fc.option(
        fc.record({
          requestsPerUnit: fc.nat(),
          unit: fc.integer({ min: 0, max: 9 }) as fc.Arbitrary<RateLimitUnit>,
        }),
        {
          nil: undefined,
        },
      ),
      hitsAddend: fc.option(fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)), { nil: undefined }),
    }),
    { maxLength: 4 },
  ),
});

describe("decodeRequest", () => {
  it("decodes whatever the generated encoder writes as the generated decoder and mapping do", () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = Buffer.from(RateLimitRequest.encode(m).finish());
        expect(decoded(bytes)).toEqual(generated(bytes));
      }),
      { numRuns: 3_000 },
    );
  });

  it("skips unknown fields of every wire type, and known numbers sent with another wire type", () => {
    const unknown = [
      ...[0x78, 0x96, 0x01], // field 15, varint
      ...[0x79, 1, 2, 3, 4, 5, 6, 7, 8], // field 15, fixed64
      ...length(0x7a, [1, 2]), // field 15, bytes
      ...[0x7b, 0x78, 0x01, 0x7c], // field 15, a group holding a varint
      ...[0x7d, 1, 2, 3, 4], // field 15, fixed32
      ...[0x08, 0x05], // entries (field 1) as a varint
    ];
    const bytes = request([...entry(ascii("k"), ascii("v")), ...unknown]);
    expect(decodeRequest(bytes)).toEqual(generated(bytes));
    expect(decodeRequest(bytes).descriptors[0]?.entries).toEqual([{ key: "k", value: "v" }]);
  });

  it.each([
    ["2^53 - 1", 2n ** 53n - 1n, Number.MAX_SAFE_INTEGER],
    ["2^53", 2n ** 53n, Number.MAX_SAFE_INTEGER],
    ["2^63", 2n ** 63n, Number.MAX_SAFE_INTEGER],
    ["2^64 - 1", 2n ** 64n - 1n, Number.MAX_SAFE_INTEGER],
  ])("reads a descriptor's hits_addend of %s, saturating at 2^53 - 1", (_name, cost, expected) => {
    expect(decodeRequest(request(withCost(cost))).descriptors[0]?.hitsAddend).toBe(expected);
  });

  it("reads a 10-byte varint whose last byte carries bits beyond 64 as the largest cost", () => {
    const bytes = request([
      ...entry(ascii("k"), ascii("v")),
      ...length(26, [8, ...Array(9).fill(0xff), 0x7f]),
    ]);
    expect(decodeRequest(bytes).descriptors[0]?.hitsAddend).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    [2n ** 32n - 1n, 4_294_967_295],
    [2n ** 32n, 2 ** 32],
    [2n ** 64n - 1n, Number.MAX_SAFE_INTEGER],
  ])("reads the request's hits_addend %s without dropping its high bits", (cost, expected) => {
    const bytes = Buffer.concat([
      request(entry(ascii("k"), ascii("v"))),
      Buffer.from([0x18, ...varint(cost)]),
    ]);
    expect(decodeRequest(bytes).hitsAddend).toBe(expected);
  });

  it("keeps a limit override's uint32 and enum as protobuf does (the low 32 bits)", () => {
    const override = length(18, [8, ...varint(2n ** 32n + 7n), 16, ...varint(2n ** 64n - 2n ** 32n + 2n)]);
    const bytes = request([...entry(ascii("k"), ascii("v")), ...override]);
    expect(decodeRequest(bytes).descriptors[0]?.limitOverride).toEqual({
      requestsPerUnit: 7,
      unit: "minute",
    });
    expect(decodeRequest(bytes)).toEqual(generated(bytes));
  });

  it("keeps keys and values whose bytes are not UTF-8 apart", () => {
    const call = decodeRequest(request(entry([0xff], [0x61, 0xff]), entry([0xfe], [0x61, 0xfe])));
    expect(call.descriptors.map((d) => d.entries)).toEqual([
      [{ key: "\udcff", value: "a\udcff" }],
      [{ key: "\udcfe", value: "a\udcfe" }],
    ]);
  });

  it("refuses an unknown override unit with the mapping's message", () => {
    const bytes = request([...entry(ascii("k"), ascii("v")), ...length(18, [8, 1, 16, 9])]);
    expect(() => decodeRequest(bytes)).toThrow("descriptors[0].limit.unit: unknown unit 9");
  });

  const valid = request(entry(ascii("key"), ascii("value")));
  it.each([
    ["truncated", valid.subarray(0, valid.length - 1), "a length runs past the end of the message"],
    ["a length past the end", Buffer.from([0x0a, 0x7f, 0x61]), "a length runs past the end of the message"],
    [
      "an entry longer than its descriptor",
      request([...length(10, [0x0a, 0x05, 0x61]), 0x61, 0x61, 0x61, 0x61]),
      "runs past the end of its message",
    ],
    ["wire type 7", Buffer.from([...valid, 0x0f]), "wire type 7"],
    ["wire type 6", Buffer.from([...valid, 0x0e]), "wire type 6"],
    ["field 0", Buffer.from([...valid, 0x00, 0x01]), "invalid tag 0"],
    ["a stray end-group", Buffer.from([...valid, 0x0c]), "an end-group tag without its start"],
    ["a group without its end", Buffer.from([...valid, 0x0b, 0x08, 0x01]), "a group without its end"],
    [
      "a group closed by another field",
      Buffer.from([...valid, 0x0b, 0x14]),
      "an end-group tag of another field",
    ],
    [
      "a varint over 10 bytes",
      Buffer.from([...valid, 0x18, ...Array(10).fill(0xff), 0x01]),
      "a varint longer than 10 bytes",
    ],
    [
      "a message ending inside a varint",
      Buffer.from([...valid, 0x18, 0xff]),
      "the message ends inside a varint",
    ],
    [
      "a message ending inside a fixed64",
      Buffer.from([...valid, 0x79, 1, 2]),
      "the message ends inside a field",
    ],
    ["a tag beyond 32 bits", Buffer.from([...valid, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), "invalid tag"],
  ])("refuses %s with InvalidRequestError", (_name, bytes, reason) => {
    expect(() => decodeRequest(bytes)).toThrow(InvalidRequestError);
    expect(() => decodeRequest(bytes)).toThrow(reason);
  });

  it("refuses deeply nested groups without exhausting the stack", () => {
    const bytes = Buffer.from([...valid, ...Array(10_000).fill(0x7b), ...Array(10_000).fill(0x7c)]);
    expect(() => decodeRequest(bytes)).toThrow("groups nested too deep");
  });

  it("answers any bytes with a call or an InvalidRequestError, nothing else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        decoded(Buffer.from(bytes));
      }),
      { numRuns: 20_000 },
    );
  });
});
