import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REFERENCE_SETTINGS, referenceSettingsTable } from "../../src/settings/reference-settings.ts";

const MIGRATION_DOC = readFileSync(
  new URL("../../docs/migrating-from-envoy-ratelimit.md", import.meta.url),
  "utf8",
);
const SETUP = readFileSync(new URL("../../scripts/setup.sh", import.meta.url), "utf8");

/**
 * The reference's settings.go, from the Go module cache that scripts/setup.sh fills when it builds
 * the reference binary (read there, never copied into this repository).
 */
function referenceSettingsSource(): string {
  const version = /^RATELIMIT_VERSION="([^"]+)"/m.exec(SETUP)?.[1];
  expect(version, "scripts/setup.sh pins RATELIMIT_VERSION").toBeDefined();
  // Go as scripts/setup.sh finds it: on PATH, else the official tarball's place.
  const go = spawnSync("go", ["version"]).error === undefined ? "go" : "/usr/local/go/bin/go";
  const cache = execFileSync(go, ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  return readFileSync(
    join(cache, `github.com/envoyproxy/ratelimit@${version}`, "src/settings/settings.go"),
    "utf8",
  );
}

describe("envoyproxy/ratelimit's settings", () => {
  it("are each classified by Sluice: mapped, not needed or not implemented", () => {
    const names = [...referenceSettingsSource().matchAll(/envconfig:"([A-Z0-9_]+)"/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(50);
    expect(REFERENCE_SETTINGS.map((s) => s.name).sort()).toEqual([...names].sort());
  });

  it("are all in the migration guide's table, exactly as generated", () => {
    expect(MIGRATION_DOC).toContain(`${referenceSettingsTable()}\n`);
  });
});
