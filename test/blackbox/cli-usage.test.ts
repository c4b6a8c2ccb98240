import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runSluice } from "../support/sluice-process.ts";

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** stderr as lines, so a test can insist a usage error is short enough to be read. */
function lines(text: string): string[] {
  return text.trimEnd().split("\n");
}

describe("sluice --version", () => {
  it.each([[["--version"]], [["serve", "--version"]], [["check", "--version"]]])(
    "sluice %j prints the package version and exits 0",
    async (args) => {
      const result = await runSluice(args);
      expect(result).toMatchObject({ code: 0, stderr: "" });
      expect(result.stdout).toBe(`sluice ${VERSION}\n`);
    },
  );
});

describe("help", () => {
  it("`sluice --help` lists the commands", async () => {
    const result = await runSluice(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\s+serve\b/m);
    expect(result.stdout).toMatch(/^\s+check\b/m);
  });

  it("`sluice check --help` prints the check usage instead of reading a file named --help", async () => {
    const result = await runSluice(["check", "--help"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^usage: sluice check .*PATH/);
    expect(result.stdout).not.toContain("ENOENT");
  });

  it("`sluice serve --help` says what each flag does, its environment variable and its default", async () => {
    const result = await runSluice(["serve", "--help"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const help = result.stdout;
    expect(help).toMatch(/^usage: sluice serve --policy PATH/);
    // One entry per flag: the flag line names the variable and the default, the next line explains it.
    const entries = [...help.matchAll(/^ {2}(--[a-z-]+)[^\n]*\n {6}\S[^\n]+/gm)];
    const flags = entries.map((m) => m[1]);
    expect(flags).toEqual(expect.arrayContaining(["--policy", "--grpc-addr", "--redis-url", "--log-format"]));
    expect(new Set(flags).size).toBe(flags.length);
    for (const [entry] of entries) expect(entry).toMatch(/SLUICE_[A-Z_]+/);
    expect(help).toMatch(/--grpc-addr HOST:PORT .*SLUICE_GRPC_ADDR.*default 0\.0\.0\.0:8081/);
    expect(help).toMatch(/--log-format json\|text .*SLUICE_LOG_FORMAT.*default json/);
    expect(help).toMatch(/--policy PATH .*SLUICE_POLICY.*required/);
    // Every flag the parser accepts is in the help: an unknown one would be refused below.
    const accepted = await runSluice(["serve", ...flags.flatMap((f) => [`${f}=`])]);
    expect(accepted.stderr).not.toContain("unknown argument");
  });
});

describe("usage errors", () => {
  const HINT = "run 'sluice serve --help' for the flags";

  it("an unknown serve flag is one line and a hint, exit 2", async () => {
    const result = await runSluice(["serve", "--policy", "deploy/policies", "--bogus=1"]);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual(['sluice serve: unknown argument "--bogus=1"', HINT]);
  });

  it("a bad setting is its own line and the hint, without the usage dump", async () => {
    const result = await runSluice(["serve", "--policy", "deploy/policies", "--grpc-addr", "nope"]);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([
      'sluice serve: --grpc-addr (SLUICE_GRPC_ADDR): expected HOST:PORT, got "nope"',
      HINT,
    ]);
  });

  it("an unknown command is one line and a hint, exit 2", async () => {
    const result = await runSluice(["serv"]);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([
      'sluice: unknown command "serv"',
      "run 'sluice --help' for the commands",
    ]);
  });

  it("no command is one line and a hint, exit 2", async () => {
    const result = await runSluice([]);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual(["sluice: missing command", "run 'sluice --help' for the commands"]);
  });

  it("check without a path, or with an option it does not know, is one line and a hint, exit 2", async () => {
    for (const args of [["check"], ["check", "--strict", "deploy/policies"]]) {
      const result = await runSluice(args);
      expect(result.code).toBe(2);
      expect(lines(result.stderr)).toEqual([
        expect.stringMatching(/^sluice check: /),
        "run 'sluice check --help' for usage",
      ]);
    }
  });
});
