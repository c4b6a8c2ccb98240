import { connect as connectHttp2, constants as h2 } from "node:http2";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimitResponse } from "../../src/generated/envoy/service/ratelimit/v3/rls.ts";
import { createRawRlsClient, METHOD, type RawReply, type RawRlsClient } from "../support/raw-rls.ts";
import { createRlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { callOutcome } from "../support/steady-load.ts";
import { type FuzzCase, fuzzCase, prng, type Random } from "./request-fuzzer.ts";

/**
 * Hostile input at the gRPC port: 100,000 random, boundary and mutated RateLimitRequests, then raw
 * malformed HTTP/2 and gRPC framing. Every call must be answered or refused cleanly (never an
 * internal error from Sluice's own code, never a hang), and the service must still decide correctly
 * afterwards. Reproducible: the seed is printed; SLUICE_FUZZ_SEED reruns it, SLUICE_FUZZ_CASES
 * changes the count.
 */

const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const CASES = Number(process.env.SLUICE_FUZZ_CASES ?? 100_000);
const CONCURRENCY = 64;
const CALL_TIMEOUT_MS = 10_000;

/** Why a reply breaks the case's expectation, or undefined when it meets it. */
function verdict(c: FuzzCase, reply: RawReply): string | undefined {
  const { error, response } = reply;
  if (error) {
    const name = `${status[error.code]}: ${error.details}`;
    // What any bytes may get: refused as invalid (protobuf or not) or as too big for grpc-js.
    const clean = error.code === status.INVALID_ARGUMENT || error.code === status.RESOURCE_EXHAUSTED;
    if (!clean) return `unclean error ${name}`;
    if (c.expect.kind === "decision") return `expected a decision, got ${name}`;
    if (c.expect.kind === "invalid" && error.code !== status.INVALID_ARGUMENT)
      return `expected INVALID_ARGUMENT, got ${name}`;
    if (c.expect.kind === "too-big" && error.code !== status.INVALID_ARGUMENT) {
      return `expected INVALID_ARGUMENT, got ${name}`;
    }
    return undefined;
  }
  if (c.expect.kind === "invalid" || c.expect.kind === "too-big")
    return `expected ${c.expect.kind}, got an answer`;
  const decoded = RateLimitResponse.decode(response ?? Buffer.alloc(0));
  if (decoded.overallCode !== 1 && decoded.overallCode !== 2)
    return `answer with overall code ${decoded.overallCode}`;
  if (c.expect.kind === "decision" && decoded.statuses.length !== c.expect.descriptors) {
    return `${decoded.statuses.length} statuses for ${c.expect.descriptors} descriptors`;
  }
  return undefined;
}

describe(`fuzzing ShouldRateLimit (seed ${SEED})`, () => {
  let sluice: SluiceProcess;

  beforeAll(async () => {
    console.log(`fuzz seed: ${SEED} (rerun with SLUICE_FUZZ_SEED=${SEED})`);
    sluice = await startSluice([
      "--policy",
      "deploy/policies/api.yaml",
      "--policy",
      "test/fixtures/reliability",
      // Small, so the flood of random keys exercises eviction too.
      "--memory-max-entries",
      "500",
    ]);
  });

  afterAll(async () => {
    await sluice?.stop();
  });

  it(`answers or cleanly refuses ${CASES} random, boundary and mutated requests`, {
    timeout: 180_000,
  }, async () => {
    const clients = Array.from({ length: 4 }, () => createRawRlsClient(sluice.grpcAddress));
    const failures: string[] = [];
    const seen = { structured: 0, mutated: 0, random: 0, decisions: 0, refusals: 0 };
    let next = 0;
    const worker = async (w: number) => {
      const client = clients[w % clients.length] as RawRlsClient;
      for (let i = next++; i < CASES; i = next++) {
        const c = fuzzCase(SEED, i);
        const reply = await client.send(c.bytes, CALL_TIMEOUT_MS);
        seen[c.origin]++;
        if (reply.error) seen.refusals++;
        else seen.decisions++;
        const problem = verdict(c, reply);
        if (problem !== undefined && failures.length < 20) {
          failures.push(`case ${i} (${c.origin}, ${c.bytes.length} bytes): ${problem}`);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
    } finally {
      for (const client of clients) client.close();
    }
    console.log(`fuzz seed ${SEED}: ${JSON.stringify(seen)}`);

    expect(failures, `seed ${SEED}`).toEqual([]);
    // The mix really exercised both sides.
    expect(seen.decisions).toBeGreaterThan(CASES / 5);
    expect(seen.refusals).toBeGreaterThan(CASES / 5);
  });

  it("survives malformed HTTP/2 and gRPC framing on raw connections", { timeout: 60_000 }, async () => {
    const [host, port] = splitAddress(sluice.grpcAddress);
    const rng = prng(SEED, -1);
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    const settings = frame(4, 0, 0, Buffer.alloc(0));
    const raw: Buffer[] = [];
    for (let i = 0; i < 50; i++) raw.push(bytes(rng, int(rng, 0, 4096)));
    for (let i = 0; i < 50; i++) raw.push(Buffer.concat([preface, bytes(rng, int(rng, 0, 2048))]));
    for (let i = 0; i < 50; i++) {
      const frames = Array.from({ length: int(rng, 1, 8) }, () =>
        frame(int(rng, 0, 12), int(rng, 0, 255), int(rng, 0, 9), bytes(rng, int(rng, 0, 256))),
      );
      raw.push(Buffer.concat([preface, settings, ...frames]));
    }
    // HEADERS on stream 1 (END_HEADERS) with a garbage HPACK block.
    for (let i = 0; i < 30; i++)
      raw.push(Buffer.concat([preface, settings, frame(1, 4, 1, bytes(rng, int(rng, 1, 512)))]));
    // Several connections at once, bounded: each is closed after the server reacts or 500 ms.
    for (let i = 0; i < raw.length; i += 20) {
      await Promise.all(raw.slice(i, i + 20).map((b) => rawExchange(host, port, b)));
    }

    const grpcFrames: [string, Buffer, Record<string, string>][] = [
      [
        "two messages in a unary call",
        Buffer.concat([message(Buffer.alloc(0)), message(Buffer.alloc(0))]),
        {},
      ],
      ["a length prefix longer than the body", Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]), {}],
      [
        "a compressed flag without an encoding",
        Buffer.concat([Buffer.from([1]), Buffer.from([0, 0, 0, 2, 0, 0])]),
        {},
      ],
      ["a truncated prefix", Buffer.from([0, 0, 0]), {}],
      ["an unknown encoding", message(Buffer.from([1, 2, 3])), { "grpc-encoding": "snappy-ish" }],
      ["a prefix claiming 4 GiB", Buffer.from([0, 0xff, 0xff, 0xff, 0xff]), {}],
    ];
    for (const [name, body, headers] of grpcFrames) {
      const answer = await http2Call(sluice.grpcAddress, METHOD, body, headers);
      expect(answer, name).toMatchObject({ finished: true });
      expect(answer.grpcStatus, name).not.toBe(String(status.OK));
    }
    const unknownMethod = await http2Call(
      sluice.grpcAddress,
      "/no.Such/Method",
      message(Buffer.alloc(0)),
      {},
    );
    expect(unknownMethod.grpcStatus).toBe(String(status.UNIMPLEMENTED));
    const wrongType = await http2Call(sluice.grpcAddress, METHOD, message(Buffer.alloc(0)), {
      "content-type": "text/plain",
    });
    expect(wrongType.finished).toBe(true);
    expect(wrongType.grpcStatus).not.toBe(String(status.OK));
  });

  it("still decides correctly afterwards, and never crashed", async () => {
    process.kill(sluice.pid, 0);
    const client = createRlsClient(sluice.grpcAddress);
    try {
      const strict = {
        domain: "rel-default",
        descriptors: [{ entries: [{ key: "strict", value: `after-${SEED}` }] }],
      };
      const outcomes = [];
      for (let i = 0; i < 5; i++) outcomes.push(await callOutcome(client, strict, 5_000));
      expect(outcomes).toEqual([
        "OK+headers",
        "OK+headers",
        "OK+headers",
        "OK+headers",
        "OVER_LIMIT+headers",
      ]);
    } finally {
      client.close();
    }
    const metrics = await (await fetch(`${sluice.adminUrl}/metrics`)).text();
    // The random keys overflowed the 500-counter bound: the memory store evicted instead of growing.
    expect(Number(/^sluice_memory_store_evictions_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^sluice_call_errors_total\{kind="internal"\} (\d+)/m.exec(metrics)?.[1] ?? 0)).toBe(0);
    expect(sluice.output()).not.toMatch(/uncaught|unhandled|FATAL/i);
  });
});

const int = (rng: Random, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
const bytes = (rng: Random, length: number) => Buffer.from(Array.from({ length }, () => int(rng, 0, 255)));

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

/** An HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload. */
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** A gRPC length-prefixed message, uncompressed. */
function message(payload: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

/** Writes `data` on a fresh connection and waits until the server closes it or 500 ms pass. */
function rawExchange(host: string, port: number, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, 500);
    socket.on("error", done);
    socket.on("close", done);
    socket.on("data", () => {});
    socket.on("connect", () => socket.write(data));
  });
}

/** One raw HTTP/2 POST; resolves with how it ended (bounded by 5 s). */
async function http2Call(
  address: string,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ finished: boolean; grpcStatus?: string; httpStatus?: number }> {
  const session = connectHttp2(`http://${address}`);
  session.on("error", () => {});
  try {
    return await Promise.race([
      new Promise<{ finished: boolean; grpcStatus?: string; httpStatus?: number }>((resolve) => {
        const stream = session.request({
          [h2.HTTP2_HEADER_METHOD]: "POST",
          [h2.HTTP2_HEADER_PATH]: path,
          "content-type": "application/grpc",
          te: "trailers",
          ...headers,
        });
        let httpStatus: number | undefined;
        let grpcStatus: string | undefined;
        stream.on("response", (h) => {
          httpStatus = Number(h[h2.HTTP2_HEADER_STATUS]);
          grpcStatus = h["grpc-status"] as string | undefined;
        });
        stream.on("trailers", (t) => {
          grpcStatus = t["grpc-status"] as string | undefined;
        });
        stream.on("data", () => {});
        stream.on("error", () => resolve({ finished: true, grpcStatus, httpStatus }));
        stream.on("close", () => resolve({ finished: true, grpcStatus, httpStatus }));
        stream.end(body);
      }),
      sleep(5_000).then(() => ({ finished: false })),
    ]);
  } finally {
    session.destroy();
  }
}
