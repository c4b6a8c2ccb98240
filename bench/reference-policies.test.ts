import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { referencePolicies } from "./reference-policies.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("referencePolicies", () => {
  it("keeps the first of several windows, drops concurrency and keys the reference does not know", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-ref-policies-"));
    dirs.push(dir);
    await writeFile(
      join(dir, "a.yaml"),
      [
        "domain: d",
        "descriptors:",
        "  - key: tenant",
        "    rate_limits:",
        "      - { name: per_minute, unit: minute, requests_per_unit: 20 }",
        "      - { unit: day, requests_per_unit: 1000 }",
        "    concurrency: { max: 2, queue_timeout: 500ms, lease_ttl: 60s }",
        "    shadow_mode: true",
        "    cost_from: body",
      ].join("\n"),
    );
    const { files, notes } = await referencePolicies([dir]);
    const [name, text] = Object.entries(files)[0] ?? [];
    expect(name).toMatch(/a\.yaml$/);
    expect(parse(text ?? "")).toEqual({
      domain: "d",
      descriptors: [
        {
          key: "tenant",
          rate_limit: { name: "per_minute", unit: "minute", requests_per_unit: 20 },
          shadow_mode: true,
        },
      ],
    });
    expect(notes).toHaveLength(3);
  });

  it("turns the bench policies into one file per domain: api and bench", async () => {
    const { files } = await referencePolicies([join(ROOT, "deploy/policies"), join(ROOT, "bench/policies")]);
    const domains = Object.values(files).map((text) => (parse(text) as { domain: string }).domain);
    expect(domains.sort()).toEqual(["api", "bench"]);
    for (const text of Object.values(files)) expect(text).not.toMatch(/rate_limits|concurrency/);
  });
});
