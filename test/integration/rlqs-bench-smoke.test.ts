import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

// Columns: store | Envoy filter | RPS | p50 | p99 | Sluice CPU | Envoy CPU | requests | errors | load
const RPS = 3;
const SLUICE_CPU = 6;
const ERRORS = 9;

// `npm run bench:rlqs` takes a minute and wants a quiet machine; this runs its harness end to end in
// smoke mode (the real Envoy with each filter, Sluice on the memory store, 1 s of load each) so a
// broken harness shows up in `npm test`.
describe("npm run bench:rlqs (smoke mode)", () => {
  it("measures Envoy with the per-request filter and with RLQS, and the ratio", async () => {
    const { stdout } = await run(process.execPath, ["bench/rlqs-vs-rls.ts", "--smoke"], {
      cwd: ROOT,
      timeout: 60_000,
    });
    const rows = stdout
      .split("\n")
      .filter((line) => line.startsWith("| memory |"))
      .map((line) => line.split("|").map((cell) => cell.trim()));
    expect(rows.map((cells) => cells[2])).toEqual(["rate_limit (RLS)", "rate_limit_quota (RLQS)"]);
    for (const cells of rows) {
      expect(Number(cells[RPS])).toBeGreaterThan(0);
      expect(cells[ERRORS]).toBe("0");
    }
    // Every RLS request is a call to Sluice; RLQS asks only once per report tick.
    const [rls, rlqs] = rows.map((cells) => Number(cells[SLUICE_CPU]));
    expect(rls).toBeGreaterThan(rlqs ?? Number.POSITIVE_INFINITY);
    expect(stdout).toMatch(/^- memory: RLQS\/RLS RPS \d+\.\d\d×/m);
  }, 70_000);
});
