import { createHash } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimitResponse } from "../../src/generated/envoy/service/ratelimit/v3/rls.ts";
import { scrape, seriesValue } from "../support/metrics-text.ts";
import { awayFromMinuteEnd } from "../support/minute-slot.ts";
import {
  createRawRlsClient,
  encodeRequest,
  lengthField,
  type RawDescriptor,
  type RawRlsClient,
  UINT64_MAX,
  varint,
} from "../support/raw-rls.ts";
import { type RedisServer, redisCli, startRedis } from "../support/redis-server.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

/**
 * What a client can put on the wire that Envoy's own descriptors rarely carry: costs beyond 2^53
 * (Envoy takes a descriptor's hits_addend from a format string, e.g. a request header, as a
 * uint64) and entry values that are not UTF-8 (header bytes 0x80–0xff). Any error answer lets the
 * request through (Envoy fails open by default), so each must get a decision; and bytes that
 * differ must count on different counters. Only a message that is not protobuf at all is refused,
 * with INVALID_ARGUMENT, and counted.
 */

const FEATURES = "test/fixtures/policies/features.yaml";
/** Its `to_number` rule has detailed_metric: request values become metric labels. */
const REFERENCE = "test/fixtures/policies/good-reference.yaml";
const INVALID = [0xff];
const OTHER_INVALID = [0xfe];

interface Answer {
  readonly code: "OK" | "OVER_LIMIT" | "error";
  /** requests_per_unit of the first status's current limit, when one matched. */
  readonly limit?: number;
  readonly headers: Record<string, string>;
  readonly error?: string;
}

describe.each(["memory", "redis"] as const)("hostile wire values (%s store)", (backend) => {
  let redis: RedisServer | undefined;
  let sluice: SluiceProcess;
  let client: RawRlsClient;
  let seq = 0;
  /** A value no other test uses (a fresh counter), followed by the bytes of `tail`. */
  const fresh = (tail: readonly number[] = []): Buffer =>
    Buffer.concat([Buffer.from(`${backend}-${Date.now()}-${seq++}-`), Buffer.from(tail)]);

  beforeAll(async () => {
    const storeArgs: string[] = [];
    if (backend === "redis") {
      redis = await startRedis();
      storeArgs.push("--redis-url", redis.url);
    }
    sluice = await startSluice(["--policy", FEATURES, "--policy", REFERENCE, ...storeArgs]);
    client = createRawRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    await redis?.stop();
  });

  const ask = async (bytes: Buffer): Promise<Answer> => {
    const reply = await client.send(bytes);
    if (reply.error)
      return { code: "error", headers: {}, error: `${status[reply.error.code]}: ${reply.error.details}` };
    const decoded = RateLimitResponse.decode(reply.response ?? Buffer.alloc(0));
    const headers = Object.fromEntries(
      decoded.responseHeadersToAdd.map((h) => [h.key.toLowerCase(), h.value]),
    );
    const limit = decoded.statuses[0]?.currentLimit?.requestsPerUnit;
    return { code: decoded.overallCode === 1 ? "OK" : "OVER_LIMIT", headers, ...(limit ? { limit } : {}) };
  };
  const one = (descriptor: RawDescriptor, hitsAddend?: bigint) =>
    ask(encodeRequest({ domain: "features", descriptors: [descriptor], hitsAddend }));
  const codes = async (n: number, descriptor: RawDescriptor) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await one(descriptor)).code);
    return out;
  };

  describe("costs beyond 2^53", () => {
    it.each([
      ["2^32", 2n ** 32n],
      ["2^53", 2n ** 53n],
      ["2^53 + 1", 2n ** 53n + 1n],
      ["2^63", 2n ** 63n],
      ["2^64 - 1", UINT64_MAX],
    ])("a descriptor's hits_addend of %s is OVER_LIMIT without Retry-After", async (_name, cost) => {
      await awayFromMinuteEnd();
      const answer = await one({ entries: [{ key: "replace_base", value: fresh() }], hitsAddend: cost });
      expect(answer).toMatchObject({ code: "OVER_LIMIT", limit: 2 });
      expect(answer.headers["retry-after"]).toBeUndefined();
      expect(answer.headers["x-ratelimit-limit"]).toBe("2");
    });

    it.each([
      // A uint32 field holding a larger varint: protobuf would keep the low 32 bits (2^32 → 0, a
      // cost of 1); a cost that does not fit a uint32 is above every limit, and stays so.
      ["2^32", 2n ** 32n],
      ["2^32 + 1", 2n ** 32n + 1n],
      ["2^64 - 1", UINT64_MAX],
    ])("a request's hits_addend of %s is OVER_LIMIT", async (_name, cost) => {
      await awayFromMinuteEnd();
      const answer = await one({ entries: [{ key: "replace_base", value: fresh() }] }, cost);
      expect(answer).toMatchObject({ code: "OVER_LIMIT", limit: 2 });
      expect(answer.headers["retry-after"]).toBeUndefined();
    });

    it("a cost of 2^64 - 1 on one descriptor leaves the request's other descriptors decided", async () => {
      await awayFromMinuteEnd();
      const cheap = { entries: [{ key: "path", value: Buffer.concat([Buffer.from("/v1/"), fresh()]) }] };
      const costly = { entries: [{ key: "replace_base", value: fresh() }], hitsAddend: UINT64_MAX };
      const reply = await client.send(encodeRequest({ domain: "features", descriptors: [costly, cheap] }));
      expect(reply.error).toBeUndefined();
      const decoded = RateLimitResponse.decode(reply.response ?? Buffer.alloc(0));
      expect(decoded.statuses.map((s) => s.code)).toEqual([2, 1]);
    });
  });

  describe("entry bytes that are not UTF-8", () => {
    it("count apart when the bytes differ, on a bare-key rule", async () => {
      await awayFromMinuteEnd();
      const base = fresh();
      const value = (tail: Buffer) => ({
        entries: [{ key: "replace_base", value: Buffer.concat([base, tail]) }],
      });
      expect(await codes(3, value(Buffer.from(INVALID)))).toEqual(["OK", "OK", "OVER_LIMIT"]);
      expect(await codes(3, value(Buffer.from(OTHER_INVALID)))).toEqual(["OK", "OK", "OVER_LIMIT"]);
      // U+FFFD sent as valid UTF-8 is a value of its own too.
      expect(await codes(1, value(Buffer.from("\ufffd")))).toEqual(["OK"]);
    });

    it.each([
      ["a truncated sequence", [0xc3], [0xe2, 0x82]],
      ["an overlong encoding", [0xc0, 0x80], [0xc0, 0x81]],
      ["an encoded surrogate", [0xed, 0xa0, 0x80], [0xed, 0xb0, 0x80]],
    ])("count apart for %s", async (_name, a, b) => {
      await awayFromMinuteEnd();
      const base = fresh();
      const value = (tail: number[]) => Buffer.concat([base, Buffer.from(tail)]);
      expect(await codes(2, { entries: [{ key: "replace_base", value: value(a) }] })).toEqual(["OK", "OK"]);
      expect(await codes(2, { entries: [{ key: "replace_base", value: value(b) }] })).toEqual(["OK", "OK"]);
    });

    it("still match a wildcard rule, each byte sequence on its own counter", async () => {
      await awayFromMinuteEnd();
      const base = Buffer.concat([Buffer.from("/v1/"), fresh()]);
      const path = (tail: number[]) => ({
        entries: [{ key: "path", value: Buffer.concat([base, Buffer.from(tail)]) }],
      });
      const first = await one(path(INVALID));
      expect(first).toMatchObject({ code: "OK", limit: 3 });
      expect(await codes(3, path(INVALID))).toEqual(["OK", "OK", "OVER_LIMIT"]);
      expect(await codes(3, path(OTHER_INVALID))).toEqual(["OK", "OK", "OK"]);
    });

    it("in keys, count apart under a limit override", async () => {
      await awayFromMinuteEnd();
      const value = fresh();
      const limit = { requestsPerUnit: 1, unit: 2 }; // 1 per minute
      const withKey = (key: number[]) => ({ entries: [{ key, value }], limit });
      expect(await codes(2, withKey(INVALID))).toEqual(["OK", "OVER_LIMIT"]);
      expect(await codes(2, withKey(OTHER_INVALID))).toEqual(["OK", "OVER_LIMIT"]);
    });

    it("show as U+FFFD in one metrics series, never as two series printed alike", async () => {
      const value = (tail: number[]) => Buffer.concat([Buffer.from(`${backend}-m-`), Buffer.from(tail)]);
      for (const tail of [INVALID, OTHER_INVALID]) {
        const entries = [{ key: "to_number", value: value(tail) }];
        expect((await ask(encodeRequest({ domain: "reference", descriptors: [{ entries }] }))).code).toBe(
          "OK",
        );
      }
      const lines = (await scrape(sluice.adminUrl))
        .split("\n")
        .filter(
          (line) => line.startsWith("sluice_decisions_total") && line.includes(`to_number=${backend}-m-`),
        );
      expect(lines).toEqual([
        `sluice_decisions_total{domain="reference",rule="to_number=${backend}-m-\ufffd",code="OK"} 2`,
      ]);
    });

    it("in a domain, get a decision", async () => {
      const answer = await ask(
        encodeRequest({
          domain: Buffer.from([0x66, 0xff]),
          descriptors: [{ entries: [{ key: "k", value: "v" }] }],
        }),
      );
      expect(answer).toMatchObject({ code: "OK" });
    });
  });

  describe("messages that are not protobuf", () => {
    const valid = encodeRequest({
      domain: "features",
      descriptors: [{ entries: [{ key: "path", value: "/v1/x" }] }],
    });
    it.each([
      ["a truncated message", valid.subarray(0, valid.length - 2)],
      [
        "a length beyond the message",
        Buffer.concat([lengthField(1, "features"), Buffer.from([0x12, 0x7f, 0x0a])]),
      ],
      ["wire type 7", Buffer.concat([valid, Buffer.from([0x0f])])],
      [
        "a varint of 11 bytes",
        Buffer.concat([valid, Buffer.from([0x18]), Buffer.alloc(10, 0xff), Buffer.from([0x01])]),
      ],
      ["a tag of field 0", Buffer.concat([valid, varint(0), varint(1)])],
      ["an end-group tag without its start", Buffer.concat([valid, Buffer.from([0x1c])])],
    ])("answers %s INVALID_ARGUMENT, counted", async (_name, bytes) => {
      const before = seriesValue(
        await scrape(sluice.adminUrl),
        'sluice_call_errors_total{kind="invalid_argument"}',
      );
      const answer = await ask(bytes);
      expect(answer.code).toBe("error");
      expect(answer.error).toMatch(/^INVALID_ARGUMENT: /);
      const after = seriesValue(
        await scrape(sluice.adminUrl),
        'sluice_call_errors_total{kind="invalid_argument"}',
      );
      expect(after).toBe((before ?? 0) + 1);
    });

    it("answered nothing INTERNAL", async () => {
      const text = await scrape(sluice.adminUrl);
      expect(seriesValue(text, 'sluice_call_errors_total{kind="internal"}')).toBe(0);
    });
  });

  if (backend === "redis") {
    it("keeps the Redis key of a UTF-8 value: the hash of its counter id, unchanged", async () => {
      const value = `é中😀-${Date.now()}`;
      expect((await one({ entries: [{ key: "replace_base", value }] })).code).toBe("OK");
      // The documented scheme (counter-key.ts), written out here: SHA-256 over the id's UTF-16LE
      // code units, the first 128 bits in base64url, between braces.
      const id = JSON.stringify(["features", ["replace_base", value]]);
      const digest = createHash("sha256").update(Buffer.from(id, "utf16le")).digest();
      const base = `sluice:{${digest.subarray(0, 16).toString("base64url")}}`;
      const keys = await redisCli(["-p", String(redis?.port), "--scan", "--pattern", `${base}*`]);
      expect(keys.trim().split("\n")[0]).toMatch(new RegExp(`^${base.replace(/[{}]/g, "\\$&")}:60000:\\d+$`));
    });
  }
});
