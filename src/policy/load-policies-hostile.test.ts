import { execFileSync } from "node:child_process";
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

  it("refuses block collections nested deeper than any policy needs, before parsing them", async () => {
    // `- - - - … key: x` nests 100,000 block sequences in 200 KB: linear in size, unlike indentation.
    const compact = join(dir, "compact-nesting.yaml");
    await writeFile(compact, `domain: x\ndescriptors:\n${"- ".repeat(100_000)}key: x\n`);
    const indented = join(dir, "indented-nesting.yaml");
    const lines = Array.from({ length: 600 }, (_, i) => `${" ".repeat(i + 4)}m${i}:`);
    await writeFile(indented, `domain: x\ndescriptors:\n  - key: k\n    metadata:\n${lines.join("\n")} 1\n`);
    expect(messages(await loadPolicies([compact, indented]))).toEqual([
      `${compact}: line 3: YAML nested deeper than 512 columns of indentation`,
      `${indented}: line 514: YAML nested deeper than 512 columns of indentation`,
    ]);
  });

  it("refuses a FIFO named as a policy file instead of waiting for a writer", async () => {
    const fifo = join(dir, "fifo.yaml");
    execFileSync("mkfifo", [fifo]);
    expect(messages(await loadPolicies([fifo]))).toEqual([`${fifo}: (root): not a regular file`]);
  });

  it("never executes or includes anything a YAML tag names: tagged values are plain text", async () => {
    const file = join(dir, "tags.yaml");
    await writeFile(
      file,
      'domain: !!js/function "function () { process.exit(9) }"\ndescriptors:\n  - key: !include /etc/passwd\n',
    );
    const result = await loadPolicies([file]);
    expect(result.ok && [...result.table.domains.keys()]).toEqual(["function () { process.exit(9) }"]);
    expect(
      result.ok &&
        result.table.match("function () { process.exit(9) }", [{ key: "/etc/passwd", value: "v" }]),
    ).toBeDefined();
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
