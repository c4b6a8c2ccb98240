// The transport ceiling for the benchmarks: the same server and transport as Sluice, answering every
// call with one constant OK and doing nothing else. Whatever Sluice adds on top of this (decoding into
// domain types, matching, counting, deciding, metrics) is the overhead the benchmark measures.
//
//   node bench/baseline-server.ts [--grpc-addr 127.0.0.1:0] [--reply minimal|sized]
//                                 [--transport stream|grpc-js|connect]
//
// `--transport stream` (the default) is Sluice's: a grpc-js server whose ShouldRateLimit streams are
// served on HTTP/2 directly (src/edge/grpc/stream-router.ts, unary-stream.ts). `grpc-js` leaves them
// to grpc-js, as Sluice did before; `connect` serves them with Connect's Node adapter
// (@connectrpc/connect-node, a devDependency) on a node:http2 server. bench/transport-compare.ts
// runs the three side by side.
//
// `--reply sized` answers what Sluice answers for the benchmark calls in size and shape (three
// descriptor statuses, three headers), synchronously as Sluice does when it needs no store round
// trip: the transport's cost for Sluice's replies, still without any decision logic.
//
// Prints one JSON line {"msg":"serving","grpcPort":N} once bound; stops on SIGTERM or SIGINT.
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import {
  grpcServerOptions,
  RATE_LIMIT_SERVICE,
  routeRateLimitStreams,
} from "../src/edge/grpc/grpc-server.ts";
import {
  rateLimitServiceDefinition,
  serializeRateLimitResponse,
} from "../src/edge/grpc/service-definition.ts";
import type { UnaryCallback } from "../src/edge/grpc/unary-stream.ts";
import {
  type RateLimitResponse,
  RateLimitResponse_Code,
  type RateLimitResponse_DescriptorStatus,
  RateLimitResponse_RateLimit_Unit,
} from "../src/generated/envoy/service/ratelimit/v3/rls.ts";

const DESCRIPTORS = new URL("../src/generated/descriptor-set.binpb", import.meta.url);

const { values } = parseArgs({
  options: {
    "grpc-addr": { type: "string", default: "127.0.0.1:0" },
    reply: { type: "string", default: "minimal" },
    transport: { type: "string", default: "stream" },
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

const reply = values.reply === "sized" ? SIZED : MINIMAL;
const encoded = serializeRateLimitResponse(reply);
const transport = values.transport ?? "stream";
const stop =
  transport === "connect"
    ? await serveWithConnect(values["grpc-addr"])
    : await serveWithGrpcJs(values["grpc-addr"], transport === "stream");

async function serveWithGrpcJs(address: string, streamRoute: boolean): Promise<() => void> {
  // The same server options as Sluice's (grpc-server.ts), so the baseline measures the same transport.
  const options = grpcServerOptions();
  const server = new Server(options);
  const answer = (_call: unknown, callback: UnaryCallback) => callback(null, encoded);
  server.addService(rateLimitServiceDefinition, { shouldRateLimit: answer });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  if (streamRoute) routeRateLimitStreams(server, answer, options);
  serving(port);
  return () => server.forceShutdown();
}

async function serveWithConnect(address: string): Promise<() => void> {
  // Connect works with @bufbuild/protobuf's descriptors; they come from the descriptor set `npm run
  // generate` writes, and the reply is the others' bytes decoded.
  const { connectNodeAdapter } = await import("@connectrpc/connect-node");
  const { createFileRegistry, fromBinary } = await import("@bufbuild/protobuf");
  const { FileDescriptorSetSchema } = await import("@bufbuild/protobuf/wkt");
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTORS));
  const registry = createFileRegistry(set);
  const service = registry.getService(RATE_LIMIT_SERVICE);
  const schema = registry.getMessage("envoy.service.ratelimit.v3.RateLimitResponse");
  if (service === undefined || schema === undefined) throw new Error(`${DESCRIPTORS} lacks RateLimitService`);
  const message = fromBinary(schema, encoded);
  const handler = connectNodeAdapter({
    grpc: true,
    grpcWeb: false,
    connect: false,
    routes: (router) => router.service(service, { shouldRateLimit: () => message } as never),
  });
  const server = http2.createServer(handler);
  const [host, port] = [
    address.slice(0, address.lastIndexOf(":")),
    Number(address.slice(address.lastIndexOf(":") + 1)),
  ];
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  serving((server.address() as AddressInfo).port);
  return () => server.close();
}

function serving(port: number): void {
  process.stdout.write(`${JSON.stringify({ msg: "serving", grpcPort: port, pid: process.pid })}\n`);
}

const signal = await new Promise<string>((resolve) => {
  process.once("SIGTERM", () => resolve("SIGTERM"));
  process.once("SIGINT", () => resolve("SIGINT"));
});
stop();
process.stdout.write(`${JSON.stringify({ msg: "stopped", signal })}\n`);
