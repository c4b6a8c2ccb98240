import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

// The benchmark suite itself is not part of `npm test` (it takes minutes and wants a quiet machine);
// this runs its harness end to end in smoke mode — ghz, the baseline server and Sluice on the memory
// store, 300 calls — so a broken harness shows up in CI.
describe("npm run bench (smoke mode)", () => {
  it("runs one scenario against the baseline and Sluice and prints their rows and commands", async () => {
    const { stdout } = await run(process.execPath, ["bench/run-bench.ts", "--smoke"], {
      cwd: ROOT,
      timeout: 60_000,
    });
    const rows = stdout.split("\n").filter((l) => /^\| (baseline|memory) \|/.test(l));
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      const cells = row.split("|").map((c) => c.trim());
      // server | RPS | vs baseline | vs sized | CPU | p50 | p90 | p99 | p99.9 | Sluice p99 | calls | errors | ...
      expect(Number(cells[2])).toBeGreaterThan(0);
      expect(cells[11]).toBe("300");
      expect(cells[12]).toBe("0");
    }
    expect(stdout).toContain("server: `node bin/sluice.js serve");
    expect(stdout).toContain(
      "load: `.tools/bin/ghz --insecure --proto proto/envoy/service/ratelimit/v3/rls.proto",
    );
  });
});
