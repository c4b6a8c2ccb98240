// The decision path without the transport: decode a request as grpc-js hands it over (bytes),
// decide with the memory store, record metrics, encode the reply — in one process, in a loop.
// Its µs per call is what Sluice adds on top of grpc-js; it varies far less with other load on the
// machine than a ghz run does, so it is the figure to compare before and after a change.
//
//   node bench/decision-path.ts [--scenario many-tenants] [--calls 200000] [--cache-size 10000]
import { parseArgs } from "node:util";
import { fastPathOptions } from "../src/cli/fast-path-options.ts";
import { systemClock } from "../src/clock.ts";
import { decodeRequest } from "../src/edge/grpc/decode-request.ts";
import { encodeDecision } from "../src/edge/grpc/encode-decision.ts";
import { RateLimitRequest } from "../src/generated/envoy/service/ratelimit/v3/rls.ts";
import { createRateLimiter } from "../src/limiter/rate-limiter.ts";
import { createMetrics } from "../src/metrics/metrics.ts";
import { loadPolicies } from "../src/policy/load-policies.ts";
import { parseSettings } from "../src/settings/settings.ts";
import { MemoryCounterStore } from "../src/store/memory-counter-store.ts";
import { findScenario } from "./scenarios.ts";

const { values } = parseArgs({
  options: {
    scenario: { type: "string", default: "many-tenants" },
    calls: { type: "string", default: "200000" },
    "cache-size": { type: "string", default: "10000" },
  },
});

const parsed = parseSettings(
  ["--policy", "deploy/policies", "--policy", "bench/policies", "--local-cache-size", values["cache-size"]],
  {},
);
if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
const loaded = await loadPolicies(parsed.settings.policyPaths);
if (!loaded.ok) throw new Error("the benchmark policies do not load");
const table = loaded.table;
const metrics = createMetrics();
const limiter = createRateLimiter({
  policy: () => table,
  store: new MemoryCounterStore({ clock: systemClock }),
  headerStyle: "x-ratelimit",
  upstreamHeaders: false,
  ...fastPathOptions(parsed.settings, metrics),
});
const wire = findScenario(values.scenario)
  .requests()
  .map((json) => Buffer.from(RateLimitRequest.encode(RateLimitRequest.fromPartial(json)).finish()));

async function run(calls: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const stop = metrics.startCallTimer();
    const call = decodeRequest(wire[i % wire.length] as Buffer);
    const decision = await limiter.shouldRateLimit(call);
    metrics.recordDecision(call.domain, true, decision);
    encodeDecision(decision);
    stop();
  }
  return Number(process.hrtime.bigint() - start) / calls / 1000;
}

const calls = Number(values.calls);
await run(Math.min(calls, 50_000)); // JIT warm-up
const perCall = await run(calls);
process.stdout.write(
  `${values.scenario}: ${perCall.toFixed(1)} µs per call (${calls} calls, memory store)\n`,
);
