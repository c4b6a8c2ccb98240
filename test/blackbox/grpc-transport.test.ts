import { once } from "node:events";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awayFromMinuteEnd } from "../support/minute-slot.ts";
import { encodeRequest, METHOD } from "../support/raw-rls.ts";
import { startRedis } from "../support/redis-server.ts";
import { createRlsClient, headersOf, type RlsClient, type RlsRequest } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

/**
 * ShouldRateLimit has two transports on one port (src/edge/grpc/stream-router.ts): plain calls,
 * which is what Envoy sends, are served on the HTTP/2 stream by Sluice itself; compressed ones by
 * grpc-js. Both must decide alike, on the same counters, and neither may lose a call under a burst.
 */
describe("ShouldRateLimit over both transports (the service as a process)", () => {
  let sluice: SluiceProcess;
  let plain: RlsClient;
  let gzip: RlsClient;

  beforeAll(async () => {
    sluice = await startSluice(["--policy", "deploy/policies/api.yaml"]);
    plain = createRlsClient(sluice.grpcAddress);
    // grpc-js compresses every request message with gzip (algorithm 2) on this channel.
    gzip = createRlsClient(sluice.grpcAddress, {
      channelOptions: { "grpc.default_compression_algorithm": 2 },
    });
  });
  afterAll(async () => {
    plain.close();
    gzip.close();
    await sluice.stop();
  });

  const freeCall = (tenant: string): RlsRequest => ({
    domain: "api",
    descriptors: [
      {
        entries: [
          { key: "tenant", value: tenant },
          { key: "plan", value: "free" },
        ],
      },
    ],
  });

  it("counts plain and gzip-compressed calls on the same counter, and refuses the 21st of 20/minute", async () => {
    await awayFromMinuteEnd();
    const tenant = `both-${process.pid}-${Date.now()}`;
    const remaining: string[] = [];
    for (let i = 0; i < 20; i++) {
      const reply = await (i % 2 === 0 ? plain : gzip).shouldRateLimit(freeCall(tenant));
      expect(reply.overall_code).toBe("OK");
      remaining.push(headersOf(reply.response_headers_to_add)["x-ratelimit-remaining"] as string);
    }
    expect(remaining).toEqual(Array.from({ length: 20 }, (_, i) => String(19 - i)));
    expect((await gzip.shouldRateLimit(freeCall(tenant))).overall_code).toBe("OVER_LIMIT");
    expect((await plain.shouldRateLimit(freeCall(tenant))).overall_code).toBe("OVER_LIMIT");
  });

  it("answers every call of a burst of 2,000 on one connection, admitting exactly the limit", async () => {
    await awayFromMinuteEnd();
    const tenant = `burst-${process.pid}-${Date.now()}`;
    const replies = await Promise.all(
      Array.from({ length: 2000 }, () => plain.shouldRateLimit(freeCall(tenant), { timeoutMs: 30_000 })),
    );
    const codes = replies.map((r) => r.overall_code);
    expect(codes.filter((c) => c === "OK")).toHaveLength(20);
    expect(codes.filter((c) => c === "OVER_LIMIT")).toHaveLength(1980);
  });
});

describe("a call's deadline on the stream transport", () => {
  it("ends with a status by the deadline the client sent, even if the client never resets", async () => {
    // Redis stopped (SIGSTOP) answers nothing; a raw HTTP/2 client sends grpc-timeout: 300m and, unlike
    // Envoy or grpc-js, no reset when it passes. Sluice still ends the call (DEADLINE_EXCEEDED, or
    // UNAVAILABLE if the store's budget ran out first) instead of leaving the stream open.
    const redis = await startRedis();
    const sluice = await startSluice(["--policy", "deploy/policies/api.yaml", "--redis-url", redis.url]);
    const session = http2.connect(`http://${sluice.grpcAddress}`);
    try {
      process.kill(redis.pid, "SIGSTOP");
      const message = encodeRequest({
        domain: "api",
        descriptors: [
          {
            entries: [
              { key: "tenant", value: `stalled-${Date.now()}` },
              { key: "plan", value: "free" },
            ],
          },
        ],
      });
      const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
      const started = Date.now();
      const stream = session.request({
        ":method": "POST",
        ":path": METHOD,
        "content-type": "application/grpc",
        "grpc-timeout": "300m",
        te: "trailers",
      });
      let grpcStatus: unknown;
      stream.on("response", (h) => {
        grpcStatus ??= h["grpc-status"];
      });
      stream.on("trailers", (t) => {
        grpcStatus = t["grpc-status"];
      });
      stream.resume();
      stream.end(framed);
      const closed = once(stream, "close").then(() => "closed");
      const outcome = await Promise.race([closed, new Promise((r) => setTimeout(r, 5000, "still open"))]);
      expect(outcome).toBe("closed");
      expect(["4", "14"]).toContain(grpcStatus);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      process.kill(redis.pid, "SIGCONT");
      session.close();
      await sluice.stop();
      await redis.stop();
    }
  });
});
