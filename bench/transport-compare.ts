// The transport alone, three ways: the sized no-logic baseline (baseline-server.ts, Sluice's reply
// shape, nothing decided) served by grpc-js, by Sluice's stream transport (unary-stream.ts in front
// of grpc-js) and by Connect's Node adapter, in interleaved rounds on the same machine, server on
// CPU 0 and ghz on CPU 1 as in `npm run bench`.
//
//   node bench/transport-compare.ts [--rounds 3] [--duration 5s] [--scenario hot-tenant]
//
// Prints the bench's table for the median rounds (its "vs sized" column is the ratio to grpc-js, the
// first row), every round's RPS and the commands. See bench/RESULTS.md, "The transport".
import { mkdtemp, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type BenchRow, measureRounds, median } from "./measure.ts";
import { commandList, roundsList, scenarioTable } from "./report.ts";
import { findScenario } from "./scenarios.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5s" },
    scenario: { type: "string", default: "hot-tenant" },
  },
});

const pinned = availableParallelism() >= 2;
const scenario = findScenario(values.scenario);
const dataFile = join(await mkdtemp(join(tmpdir(), "sluice-transport-")), "calls.json");
await writeFile(dataFile, JSON.stringify(scenario.requests()));
const rows: BenchRow[] = ["grpc-js", "stream", "connect"].map((transport) => ({
  target: "baseline-sized",
  label: transport,
  options: { pinTo: pinned ? "0" : undefined, transport },
}));
const runs = await measureRounds(
  {
    load: (file, address) => ({
      address,
      dataFile: file,
      concurrency: 50,
      connections: 4,
      cpus: 1,
      pinTo: pinned ? "1" : undefined,
      duration: values.duration,
    }),
    warmupCalls: async () => 10_000,
  },
  scenario.name,
  rows,
  dataFile,
  Number(values.rounds),
);
const medians = rows.map((r) => median(runs.get(r.label) ?? []));
process.stdout.write(
  `## transport: ${scenario.name}, the sized no-logic baseline\n\n${scenarioTable(medians)}\n\n${roundsList(runs)}${commandList(medians)}\n`,
);
