import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSluice } from "../support/sluice-process.ts";

const FIXTURES = "test/fixtures/policies";

describe("sluice check", () => {
  it("prints one summary line per domain and exits 0 for good policies", async () => {
    const result = await runSluice(["check", "deploy/policies", `${FIXTURES}/features.yaml`]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^api: \d+ rules \(deploy\/policies\/api\.yaml\)$/),
      expect.stringMatching(/^features: \d+ rules \(test\/fixtures\/policies\/features\.yaml\)$/),
    ]);
  });

  it("exits 1 with every error as file: path.to.key: message", async () => {
    const result = await runSluice([
      "check",
      `${FIXTURES}/bad-unit.yaml`,
      `${FIXTURES}/bad-unknown-key.yaml`,
    ]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^test\/fixtures\/policies\/bad-unit\.yaml: descriptors\[0\]\.rate_limit\.unit: .*fortnight/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^test\/fixtures\/policies\/bad-unknown-key\.yaml: \S+: /),
    );
  });
});

describe("sluice serve with a malformed policy", () => {
  it("refuses to start, naming the file and the key", async () => {
    const result = await runSluice([
      "serve",
      "--policy",
      `${FIXTURES}/bad-unit.yaml`,
      "--grpc-addr",
      "127.0.0.1:0",
      "--admin-addr",
      "127.0.0.1:0",
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/bad-unit\.yaml: descriptors\[0\]\.rate_limit\.unit: /);
  });

  it("refuses a bad setting with a message naming it", async () => {
    const result = await runSluice(["serve", "--policy", "deploy/policies", "--grpc-addr", "nope"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--grpc-addr (SLUICE_GRPC_ADDR): expected HOST:PORT, got "nope"');
  });
});

describe("an empty policy directory", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-empty-policy-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is refused by serve, naming the path, rather than served with every limit gone", async () => {
    const result = await runSluice([
      ...["serve", "--policy", dir, "--workers", "1"],
      ...["--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"],
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`sluice serve: ${dir}: (root): no domain`);
    expect(result.stdout).not.toContain('"msg":"serving"');
  });

  it("is refused by check the same way", async () => {
    const result = await runSluice(["check", dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${dir}: (root): no domain`);
    expect(result.stdout).toBe("");
  });
});
