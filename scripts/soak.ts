// `npm run soak`: the 10-minute soak. Sluice on a real Redis (one process) at half of the throughput
// this machine gives it flat out; RSS and heap read from its /metrics every 15 s; the result, with
// the growth after a 60 s warm-up, replaces the "Soak" section of bench/RESULTS.md (or is appended).
//
//   npm run soak [-- --minutes 10] [-- --no-write]
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { mb, runSoak, type SoakReport } from "../test/soak/soak-run.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    "no-write": { type: "boolean", default: false },
  },
});
const durationMs = Number(values.minutes) * 60_000;
const RESULTS = new URL("../bench/RESULTS.md", import.meta.url);
/** Generous: a clear leak, not noise (a few hundred bytes kept per call at this rate). */
const RSS_BOUND_BYTES = 64 * 1024 * 1024;

const report = await runSoak({
  durationMs,
  warmupMs: Math.min(60_000, durationMs / 5),
  sampleEveryMs: Math.min(15_000, durationMs / 20),
  calibrateMs: 10_000,
  onProgress: (line) => process.stderr.write(`soak: ${line}\n`),
});
const section = render(report);
process.stdout.write(`${section}\n`);
if (!values["no-write"]) await writeSection(section);
process.exitCode = report.growth.rssGrowthBytes < RSS_BOUND_BYTES ? 0 : 1;

function render(r: SoakReport): string {
  const g = r.growth;
  const everyMinute = r.samples.filter(
    (s, i) => i === 0 || i === r.samples.length - 1 || s.atMs % 60_000 < 15_000,
  );
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return [
    "## Soak",
    "",
    `\`npm run soak\` on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpu}, load average at the end ` +
      `${loadavg()
        .map((l) => l.toFixed(1))
        .join(" / ")}. Sluice (one process, \`--workers 1\`) on one local Redis, the sample policy plus ` +
      "test/fixtures/reliability, traffic over 10,000 users, 1,000 strict keys and 500 tenants. The harness first drives " +
      "it flat out (64 calls in flight) to find its throughput here, then sends half of that on a fixed schedule.",
    "",
    "| duration | flat out | target | achieved | calls | errors | skipped | RSS after warm-up → end | RSS growth | heap floor growth |",
    "|---|---|---|---|---|---|---|---|---|---|",
    `| ${r.durationMs / 60_000} min | ${r.maxRps}/s | ${r.targetRps}/s | ${r.achievedRps}/s | ${r.calls} | ${r.errors} | ${r.skipped} | ` +
      `${mb(g.rssFirstBytes)} → ${mb(g.rssLastBytes)} | ${mb(g.rssGrowthBytes)} | ${mb(g.heapFloorGrowthBytes)} |`,
    "",
    `Growth compares the first and last thirds of the samples taken after a ${r.warmupMs / 1000} s warm-up (median RSS; lowest heap in use, ` +
      "since the heap saws with garbage collection). Errors are calls answered with an error status: with the default " +
      "`--failure-policy unavailable`, a store call slower than the 50 ms `--store-timeout-ms` is one, so on a busy machine " +
      "they measure its scheduling, not a fault. The CI version (test/soak/soak.test.ts) runs 60 s and fails above 64 MB of growth.",
    "",
    "| t | RSS | heap used |",
    "|---|---|---|",
    ...everyMinute.map(
      (s) => `| ${Math.round(s.atMs / 1000)} s | ${mb(s.rssBytes)} | ${mb(s.heapUsedBytes)} |`,
    ),
    "",
  ].join("\n");
}

/** Replaces the "## Soak" section (up to the next "## " heading) or appends one; the rest is untouched. */
async function writeSection(section: string): Promise<void> {
  const text = await readFile(RESULTS, "utf8").catch(() => "");
  const start = text.search(/^## Soak$/m);
  if (start < 0) {
    await writeFile(RESULTS, `${text.trimEnd()}\n\n${section}`);
    return;
  }
  const rest = text.slice(start + 1);
  const next = rest.search(/^## /m);
  const end = next < 0 ? text.length : start + 1 + next;
  await writeFile(RESULTS, `${text.slice(0, start)}${section}\n${text.slice(end)}`.trimEnd().concat("\n"));
}
