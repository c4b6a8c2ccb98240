// The transport alone, three ways: the sized no-logic baseline (baseline-server.ts, Sluice's reply
// shape, nothing decided) served by grpc-js, by Sluice's stream transport (unary-stream.ts in front
// of grpc-js) and by Connect's Node adapter, in interleaved rounds on the same machine, server on
// CPU 0 and ghz on CPU 1 as in `npm run bench`.
//
//   node bench/transport-compare.ts [--rounds 3] [--duration 5s] [--scenario hot-tenant]
//
// Prints a markdown table of median rounds (RPS, server CPU µs per call, client p50/p99) and every
// round's RPS. See bench/RESULTS.md, "The transport".
import { mkdtemp, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startTarget } from "./bench-targets.ts";
import { runGhz } from "./ghz-run.ts";
import { processTreeCpuMs } from "./process-cpu.ts";
import { findScenario } from "./scenarios.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5s" },
    scenario: { type: "string", default: "hot-tenant" },
  },
});

const TRANSPORTS = ["grpc-js", "stream", "connect"] as const;
const pinned = availableParallelism() >= 2;
const dataFile = join(await mkdtemp(join(tmpdir(), "sluice-transport-")), "calls.json");
await writeFile(dataFile, JSON.stringify(findScenario(values.scenario).requests()));
const load = (address: string, warm: boolean) => ({
  address,
  dataFile,
  concurrency: 50,
  connections: 4,
  cpus: 1,
  pinTo: pinned ? "1" : undefined,
  ...(warm ? { total: 10_000 } : { duration: values.duration }),
});

interface Round {
  readonly rps: number;
  readonly cpuPerCallUs: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}
const rounds = new Map<string, Round[]>(TRANSPORTS.map((t) => [t, []]));
let command = "";
for (let round = 0; round < Number(values.rounds); round++) {
  for (const transport of TRANSPORTS) {
    const target = await startTarget("baseline-sized", { pinTo: pinned ? "0" : undefined, transport });
    try {
      await runGhz(load(target.address, true));
      const before = (await processTreeCpuMs(target.pid)) ?? 0;
      const result = await runGhz(load(target.address, false));
      const cpuMs = ((await processTreeCpuMs(target.pid)) ?? 0) - before;
      command = result.command;
      rounds.get(transport)?.push({
        rps: result.rps,
        cpuPerCallUs: (cpuMs * 1000) / result.count,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors,
      });
    } finally {
      await target.stop();
    }
  }
}

const median = (runs: readonly Round[]): Round =>
  [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)] as Round;
const base = median(rounds.get("grpc-js") ?? []);
console.log(`scenario ${values.scenario}; ghz: ${command}\n`);
console.log("| transport | RPS | ÷ grpc-js | server CPU µs/call | p50 ms | p99 ms | errors |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const transport of TRANSPORTS) {
  const m = median(rounds.get(transport) ?? []);
  const row = [
    transport,
    Math.round(m.rps),
    `${(m.rps / base.rps).toFixed(2)}×`,
    Math.round(m.cpuPerCallUs),
    m.p50.toFixed(2),
    m.p99.toFixed(2),
    m.errors,
  ];
  console.log(`| ${row.join(" | ")} |`);
}
console.log("\nRounds (RPS):");
for (const [transport, runs] of rounds) {
  console.log(`- ${transport}: ${runs.map((r) => Math.round(r.rps)).join(", ")}`);
}
