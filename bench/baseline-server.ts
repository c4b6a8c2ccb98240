// The transport ceiling for the benchmarks: the same grpc-js server and the same generated
// RateLimitService code as Sluice, answering every call with one constant OK and doing nothing else.
// Whatever Sluice adds on top of this (decoding into domain types, matching, counting, deciding,
// metrics) is the overhead the benchmark measures.
//
//   node bench/baseline-server.ts [--grpc-addr 127.0.0.1:0] [--reply minimal|sized]
//
// `--reply sized` answers what Sluice answers for the benchmark calls in size and shape (three
// descriptor statuses, three headers), synchronously as Sluice does when it needs no store round
// trip: the transport's cost for Sluice's replies, still without any decision logic.
//
// Prints one JSON line {"msg":"serving","grpcPort":N} once bound; stops on SIGTERM or SIGINT.
import { parseArgs } from "node:util";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { grpcServerOptions } from "../src/edge/grpc/grpc-server.ts";
import {
  type RateLimitResponse,
  RateLimitResponse_Code,
  type RateLimitResponse_DescriptorStatus,
  RateLimitResponse_RateLimit_Unit,
  RateLimitServiceService,
} from "../src/generated/envoy/service/ratelimit/v3/rls.ts";

const { values } = parseArgs({
  options: {
    "grpc-addr": { type: "string", default: "127.0.0.1:0" },
    reply: { type: "string", default: "minimal" },
  },
});

const MINIMAL: RateLimitResponse = {
  overallCode: RateLimitResponse_Code.OK,
  statuses: [],
  responseHeadersToAdd: [],
  requestHeadersToAdd: [],
  rawBody: Buffer.alloc(0),
  dynamicMetadata: undefined,
  quota: undefined,
};

const status: RateLimitResponse_DescriptorStatus = {
  code: RateLimitResponse_Code.OK,
  currentLimit: {
    requestsPerUnit: 1_000_000_000,
    unit: RateLimitResponse_RateLimit_Unit.MINUTE,
    name: "enterprise_per_minute",
  },
  limitRemaining: 999_999_000,
  durationUntilReset: { seconds: 30, nanos: 0 },
  quota: undefined,
};
const header = (key: string, value: string) => ({ key, value, rawValue: Buffer.alloc(0) });
const SIZED: RateLimitResponse = {
  ...MINIMAL,
  statuses: [status, status, status],
  responseHeadersToAdd: [
    header("X-RateLimit-Limit", "1000000000"),
    header("X-RateLimit-Remaining", "999999000"),
    header("X-RateLimit-Reset", "1800000000"),
  ],
};

type Callback = (error: null, response: RateLimitResponse) => void;
// The same server options as Sluice's (grpc-server.ts), so the baseline measures the same transport.
const server = new Server(grpcServerOptions());
server.addService(RateLimitServiceService, {
  shouldRateLimit:
    values.reply === "sized"
      ? (_call: unknown, callback: Callback) => callback(null, SIZED)
      : (_call: unknown, callback: Callback) => callback(null, MINIMAL),
});

const port = await new Promise<number>((resolve, reject) => {
  server.bindAsync(values["grpc-addr"], ServerCredentials.createInsecure(), (error, bound) =>
    error ? reject(error) : resolve(bound),
  );
});
process.stdout.write(`${JSON.stringify({ msg: "serving", grpcPort: port, pid: process.pid })}\n`);

const signal = await new Promise<string>((resolve) => {
  process.once("SIGTERM", () => resolve("SIGTERM"));
  process.once("SIGINT", () => resolve("SIGINT"));
});
server.forceShutdown();
process.stdout.write(`${JSON.stringify({ msg: "stopped", signal })}\n`);
