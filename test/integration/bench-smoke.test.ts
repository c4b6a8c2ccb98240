import { execFile } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const bench = async (...args: string[]) =>
  (await run(process.execPath, ["bench/run-bench.ts", "--smoke", ...args], { cwd: ROOT, timeout: 60_000 }))
    .stdout;

/** The table rows whose server cell matches, split into trimmed cells (cells[1] is the server). */
function rows(stdout: string, server: RegExp): string[][] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("| ") && server.test(l.split("|")[1]?.trim() ?? ""))
    .map((l) => l.split("|").map((c) => c.trim()));
}

// Columns: server | RPS | vs baseline | vs sized | RPS ÷ best reference | p99 ÷ best reference |
// server CPU | Redis CPU | scripts/call | p50 | p90 | p99 | p99.9 | Sluice p99 | calls | errors | ...
const RPS = 2;
const VS_REFERENCE = 5;
const REDIS_CPU = 8;
const SCRIPTS = 9;
const CALLS = 15;
const ERRORS = 16;

// The benchmark suite itself is not part of `npm test` (it takes minutes and wants a quiet machine);
// this runs its harness end to end in smoke mode — ghz, the baseline server, Sluice on the memory
// store and on Redis, and the reference (installed by the test setup) on the same Redis, 300 calls
// each — so a broken harness shows up in CI.
describe("npm run bench (smoke mode)", () => {
  it("measures the baseline, Sluice and the reference, then all but memory at half the reference's rate", async () => {
    const stdout = await bench("--fixed-rate");
    const closedLoop = rows(stdout, /^(baseline|memory|redis|reference, window 0)$/);
    expect(closedLoop.map((c) => c[1])).toEqual(["baseline", "memory", "redis", "reference, window 0"]);
    for (const cells of closedLoop) {
      expect(Number(cells[RPS])).toBeGreaterThan(0);
      expect(cells[CALLS]).toBe("300");
      expect(cells[ERRORS]).toBe("0");
    }
    const [redis, reference] = closedLoop.slice(2);
    // Redis CPU per call is read from INFO for both; only Sluice sends scripts, at most one per
    // call (fewer where a turn's charges went as one CHARGE_MANY call).
    expect(Number(redis?.[REDIS_CPU])).toBeGreaterThan(0);
    expect(Number(reference?.[REDIS_CPU])).toBeGreaterThan(0);
    expect(Number(redis?.[SCRIPTS])).toBeGreaterThan(0);
    expect(Number(redis?.[SCRIPTS])).toBeLessThanOrEqual(1);
    expect(reference?.[SCRIPTS]).toBe("0.00");
    expect(reference?.[VS_REFERENCE]).toBe("1.00×");
    expect(stdout).toContain("RUNTIME_WATCH_ROOT=false");
    expect(stdout).toContain("server: `node bin/sluice.js serve");
    expect(stdout).toContain(
      "load: `.tools/bin/ghz --insecure --proto proto/envoy/service/ratelimit/v3/rls.proto",
    );

    const rate = /^## fixed rate: hot-tenant at half the reference's maximum \((\d+)\/s/m.exec(stdout)?.[1];
    expect(Number(rate)).toBeGreaterThan(0);
    const fixed = rows(stdout, / at \d+\/s$/);
    expect(fixed.map((c) => c[1])).toEqual([
      `baseline at ${rate}/s`,
      `redis at ${rate}/s`,
      `reference, window 0 at ${rate}/s`,
    ]);
    expect(stdout).toContain(`--rps ${rate}`);
    expect(stdout).toMatch(new RegExp(`^- redis at ${rate}/s: [\\d.]+ ms$`, "m"));
  });

  it.skipIf(availableParallelism() < 2)(
    "--server-cpus 1 pins the server apart from Redis and ghz and runs Sluice with one worker per core",
    async () => {
      const stdout = await bench("--server-cpus", "1");
      expect(stdout).toContain("### server on 1 CPU");
      const scaled = rows(stdout, / on 1 CPU$/);
      expect(scaled.map((c) => c[1])).toEqual(["redis --workers 1 on 1 CPU", "reference, window 0 on 1 CPU"]);
      for (const cells of scaled) expect(cells[ERRORS]).toBe("0");
      expect(stdout).toMatch(/server: `taskset -c 0 node bin\/sluice\.js serve .*--workers 1`/);
      expect(stdout).toMatch(/server: `env .* taskset -c 0 \.tools\/bin\/ratelimit`/);
      expect(stdout).toMatch(/^- 1 CPU: Sluice \d+ RPS, reference \d+/m);
    },
  );
});

// bench/decision-path.ts on a Redis of its own: the tool the charge script is compared with.
describe("bench/decision-path.ts --store redis (smoke)", () => {
  it("decides on its own redis-server and reports Redis CPU, script calls and commands per decision", async () => {
    const { stdout } = await run(
      process.execPath,
      ["bench/decision-path.ts", "--store", "redis", "--calls", "2000", "--commands"],
      { cwd: ROOT, timeout: 60_000 },
    );
    const line = /Redis ([\d.]+) µs CPU and ([\d.]+) script calls per decision/.exec(stdout);
    expect(Number(line?.[1])).toBeGreaterThan(0);
    // 50 calls in flight share script calls (CHARGE_MANY), at most one per decision.
    expect(Number(line?.[2])).toBeGreaterThan(0);
    expect(Number(line?.[2])).toBeLessThanOrEqual(1);
    expect(stdout).toMatch(/^ {2}evalsha: [\d.]+ calls, [\d.]+ µs per decision$/m);
    expect(stdout).toMatch(/^ {2}incrby: [\d.]+ calls, /m);
  });
});

// bench/gc-pairs.ts: the tool the young-generation pauses are compared with.
describe("bench/gc-pairs.ts (smoke)", () => {
  it("runs a checkout under --trace-gc at a fixed rate and reports its scavenges", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        "bench/gc-pairs.ts",
        ...["--tree", "this=.", "--store", "redis", "--rps", "2000", "--duration", "2s"],
        ...["--pairs", "1", "--warmup-calls", "1000"],
      ],
      { cwd: ROOT, timeout: 60_000 },
    );
    const [row] = stdout.split("\n").filter((l) => l.startsWith("| this |"));
    // | tree | RPS | p50 | p99 | p99.9 | scavenges | scavenge ms | longest | MB per scavenge | KB per call | …
    const cells = row?.split("|").map((c) => c.trim()) ?? [];
    expect(Number(cells[2])).toBeGreaterThan(1000);
    expect(Number(cells[4])).toBeGreaterThan(0);
    // 4,000 calls allocate far more than a young generation holds: the --trace-gc lines were read.
    expect(Number(cells[6])).toBeGreaterThan(0);
    expect(Number(cells[7])).toBeGreaterThan(0);
  });
});

// bench/tail-pairs.ts: the fixed-rate tail of Sluice and the reference over longer runs.
describe("bench/tail-pairs.ts (smoke)", () => {
  it("runs Sluice (and the reference, when installed) at a fixed rate and reports their tails", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        "bench/tail-pairs.ts",
        ...["--scenario", "many-tenants", "--rps", "1000", "--duration", "2s"],
        ...["--pairs", "1", "--warmup-calls", "1000"],
      ],
      { cwd: ROOT, timeout: 60_000 },
    );
    const rows = stdout.split("\n").filter((l) => /^\| (redis|reference) \|/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(1);
    for (const row of rows) {
      // | server | RPS | p50 | p90 | p99 | p99.9 | errors | load |
      const cells = row.split("|").map((c) => c.trim());
      expect(Number(cells[2])).toBeGreaterThan(900);
      expect(Number(cells[5])).toBeGreaterThan(0);
      expect(cells[7]).toBe("0");
    }
  });
});
