import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPolicies } from "./load-policies.ts";
import { formatPolicyError, type PolicyLoadResult } from "./policy-types.ts";

// Files built to hurt a loader: each must be refused quickly with a message saying why.
// They are written at run time: some are large, and the repository's linter parses every YAML file.

function messages(result: PolicyLoadResult): string[] {
  return result.ok ? [] : result.errors.map(formatPolicyError);
}

describe("loadPolicies: hostile files", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-hostile-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses deeply nested flow collections before parsing them", async () => {
    const file = join(dir, "brackets.yaml");
    await writeFile(file, `domain: x\ndescriptors: ${"[".repeat(500_000)}${"]".repeat(500_000)}\n`);
    expect(messages(await loadPolicies([file]))).toEqual([
      `${file}: (root): YAML collections nested deeper than 128 levels`,
    ]);
  });

  it("refuses descriptors that nest through an alias into themselves", async () => {
    const file = join(dir, "cycle.yaml");
    await writeFile(file, "domain: x\ndescriptors: &d\n  - key: k\n    descriptors: *d\n");
    expect(messages(await loadPolicies([file]))).toEqual([
      `${file}: ${"descriptors[0].".repeat(32)}descriptors: descriptors nested deeper than 32 levels`,
    ]);
  });

  it("refuses a file over 1 MiB without parsing it", async () => {
    const file = join(dir, "large.yaml");
    await writeFile(file, `domain: x\n${"#".repeat(1024 * 1024)}\n`);
    expect(messages(await loadPolicies([file]))).toEqual([
      `${file}: (root): file is 1048587 bytes, over the 1048576-byte (1 MiB) limit; not parsed`,
    ]);
  });

  it("reports a YAML syntax error at its line", async () => {
    const file = join(dir, "syntax.yaml");
    await writeFile(file, "domain: bad\ndescriptors:\n  - key: tenant\n    rate_limit: { unit: minute\n");
    expect(messages(await loadPolicies([file]))).toEqual([
      `${file}: line 5, column 1: YAML: Flow map in block collection must be sufficiently indented and end with a }`,
    ]);
  });

  it("refuses text that is not UTF-8, and aliases without anchors", async () => {
    const binary = join(dir, "binary.yaml");
    const dangling = join(dir, "dangling.yaml");
    await writeFile(binary, Buffer.from([0x64, 0x3a, 0x20, 0xff, 0xfe]));
    await writeFile(dangling, "domain: *nope\n");
    expect(messages(await loadPolicies([binary, dangling]))).toEqual([
      `${binary}: (root): not valid UTF-8`,
      `${dangling}: (root): YAML: Unresolved alias (the anchor must be set before the alias): nope`,
    ]);
  });
});
