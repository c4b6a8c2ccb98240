// The decision path without the transport: decode a request as grpc-js hands it over (bytes),
// decide, record metrics, encode the reply — in one process, in a loop.
// Its µs per call is what Sluice adds on top of grpc-js; it varies far less with other load on the
// machine than a ghz run does, so it is the figure to compare before and after a change.
//
// With `--store redis` (or `redis-cluster`, three nodes) it decides on Redis servers of its own, `--concurrency` calls in flight (as
// ghz keeps 50), and also reports what Redis spent per decision (INFO cpu deltas) and how many
// script calls carried them: the figure to compare when the charge script changes.
//
//   node bench/decision-path.ts [--scenario many-tenants] [--calls 200000] [--cache-size 10000]
//                               [--store memory|redis|redis-cluster] [--concurrency 50] [--commands]
// `--commands` adds INFO commandstats per decision: the script's line holds all it did, the lines of
// the commands it ran only their own time, so the difference is what the script spends around them.
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
import type { CounterStore } from "../src/store/counter-store.ts";
import { MemoryCounterStore } from "../src/store/memory-counter-store.ts";
import { RedisCounterStore } from "../src/store/redis-counter-store.ts";
import { startRedis, startRedisCluster } from "../test/support/redis-server.ts";
import { type CommandCost, redisWork } from "./redis-info.ts";
import { findScenario } from "./scenarios.ts";

const { values } = parseArgs({
  options: {
    scenario: { type: "string", default: "many-tenants" },
    calls: { type: "string", default: "200000" },
    "cache-size": { type: "string", default: "10000" },
    store: { type: "string", default: "memory" },
    concurrency: { type: "string", default: "50" },
    commands: { type: "boolean", default: false },
  },
});
const STORES = ["memory", "redis", "redis-cluster"];
if (!STORES.includes(values.store)) throw new Error(`--store is one of ${STORES.join(", ")}`);

const parsed = parseSettings(
  ["--policy", "deploy/policies", "--policy", "bench/policies", "--local-cache-size", values["cache-size"]],
  {},
);
if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
const loaded = await loadPolicies(parsed.settings.policyPaths);
if (!loaded.ok) throw new Error("the benchmark policies do not load");
const table = loaded.table;
const metrics = createMetrics();
/** The Redis servers the store runs on (their ports, for INFO), and how to stop them. */
const redis =
  values.store === "redis"
    ? await startRedis().then((one) => ({ ports: [one.port], target: { url: one.url }, stop: one.stop }))
    : values.store === "redis-cluster"
      ? await startRedisCluster().then((c) => ({
          ports: c.servers.map((server) => server.port),
          target: { clusterNodes: c.nodes },
          stop: c.stop,
        }))
      : undefined;
const store: CounterStore =
  redis === undefined ? new MemoryCounterStore({ clock: systemClock }) : new RedisCounterStore(redis.target);
const limiter = createRateLimiter({
  policy: () => table,
  store,
  headerStyle: "x-ratelimit",
  upstreamHeaders: false,
  ...fastPathOptions(parsed.settings, metrics),
});
const wire = findScenario(values.scenario)
  .requests()
  .map((json) => Buffer.from(RateLimitRequest.encode(RateLimitRequest.fromPartial(json)).finish()));

/** One call as the server makes it, on the next request of the scenario. */
let next = 0;
async function decideOne(): Promise<void> {
  const stop = metrics.startCallTimer();
  const call = decodeRequest(wire[next++ % wire.length] as Buffer);
  const decision = await limiter.shouldRateLimit(call);
  metrics.recordDecision(call.domain, true, decision);
  encodeDecision(decision);
  stop();
}

/** µs of wall time per call over `calls` calls, `inFlight` at a time (1: one after another). */
async function run(calls: number, inFlight: number): Promise<number> {
  let left = calls;
  const lane = async () => {
    while (left > 0) {
      left--;
      await decideOne();
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, lane));
  return Number(process.hrtime.bigint() - start) / calls / 1000;
}

/** `--commands`: each command's calls and µs per decision over the measured run, costliest first. */
function perDecision(
  before: ReadonlyMap<string, CommandCost>,
  after: ReadonlyMap<string, CommandCost>,
): string {
  const rows = [...after]
    .map(([name, cost]) => ({
      name,
      calls: (cost.calls - (before.get(name)?.calls ?? 0)) / calls,
      usec: (cost.usec - (before.get(name)?.usec ?? 0)) / calls,
    }))
    .filter((row) => row.calls > 0 && row.name !== "info")
    .sort((a, b) => b.usec - a.usec);
  return rows
    .map((r) => `  ${r.name}: ${r.calls.toFixed(2)} calls, ${r.usec.toFixed(2)} µs per decision\n`)
    .join("");
}

const calls = Number(values.calls);
const inFlight = redis === undefined ? 1 : Number(values.concurrency);
try {
  await run(Math.min(calls, 50_000), inFlight); // JIT warm-up
  const before = redis && (await redisWork(redis.ports));
  const perCall = await run(calls, inFlight);
  const after = redis && (await redisWork(redis.ports));
  let line = `${values.scenario}: ${perCall.toFixed(1)} µs per call (${calls} calls, ${values.store} store`;
  if (before && after) {
    const cpu = ((after.cpuSeconds - before.cpuSeconds) * 1e6) / calls;
    const scripts = (after.scriptCalls - before.scriptCalls) / calls;
    line += `, ${inFlight} in flight); Redis ${cpu.toFixed(1)} µs CPU and ${scripts.toFixed(2)} script calls per decision`;
  } else line += ")";
  process.stdout.write(`${line}\n`);
  if (before && after && values.commands) process.stdout.write(perDecision(before.commands, after.commands));
} finally {
  await store.close();
  await redis?.stop();
}
