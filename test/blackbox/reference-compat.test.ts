import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrape, seriesValue } from "../support/metrics-text.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { runSluice, type SluiceProcess, startSluice } from "../support/sluice-process.ts";

/**
 * Drop-in compatibility with envoyproxy/ratelimit seen from outside: its configs load (leniently
 * where it is lenient, with warnings), its HTTP endpoints answer, and its stat names are scraped.
 */

const FIXTURES = "test/fixtures/policies";
const POLL = { timeout: 10_000, interval: 100 };

function logLines(sluice: SluiceProcess): Record<string, unknown>[] {
  return sluice
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("sluice check on configs the reference loads leniently", () => {
  it("exits 0 and prints one WARNING line per leniency, naming file and key path", async () => {
    const files = [
      "warn-duplicate-key.yaml",
      "warn-missing-requests-per-unit.yaml",
      "warn-second-document.yaml",
      "warn-share-threshold-key.yaml",
    ].map((name) => `${FIXTURES}/${name}`);
    const results = await Promise.all(files.map((file) => runSluice(["check", file])));
    results.forEach((result, i) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^lenient: 1 rule /);
      expect(result.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(new RegExp(`^WARNING: ${files[i]}: \\S+.*: `)),
      ]);
    });
  });

  it("merges files of one domain with MERGE_DOMAIN_CONFIG=true, and refuses them without", async () => {
    const files = [`${FIXTURES}/dup-domain-a.yaml`, `${FIXTURES}/dup-domain-b.yaml`];
    const merged = await runSluice(["check", ...files], { MERGE_DOMAIN_CONFIG: "true" });
    expect(merged.code).toBe(0);
    expect(merged.stdout.trim()).toBe(`dup: 2 rules (${files.join(", ")})`);
    const flagged = await runSluice(["check", "--merge-domain-config", "true", ...files]);
    expect(flagged.code).toBe(0);
    const refused = await runSluice(["check", ...files]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("duplicate domain 'dup'");
  });
});

describe("sluice serve on configs the reference loads leniently", () => {
  let dir: string;
  let sluice: SluiceProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-compat-"));
    await writeFile(
      join(dir, "a.yaml"),
      "domain: merged\ndescriptors:\n  - key: a\n    rate_limit: { unit: minute }\n",
    );
    await writeFile(join(dir, "b.yaml"), "domain: merged\ndescriptors:\n  - key: b\n");
    sluice = await startSluice(["--policy", dir], { MERGE_DOMAIN_CONFIG: "true" });
  });
  afterAll(async () => {
    await sluice?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("starts on merged files and logs each warning with its file and path", () => {
    const warnings = logLines(sluice).filter((line) => line.msg === "policy loaded with a warning");
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 40,
        generation: 1,
        file: join(dir, "a.yaml"),
        path: "descriptors[0].rate_limit.requests_per_unit",
      }),
    ]);
  });

  it("logs the warnings of a reload too", async () => {
    await writeFile(join(dir, "b.yaml"), "domain: merged\ndescriptors:\n  - key: b\n    key: c\n");
    await expect
      .poll(
        () =>
          logLines(sluice).filter(
            (line) => line.msg === "policy loaded with a warning" && line.path === "descriptors[0].key",
          ).length,
        POLL,
      )
      .toBeGreaterThan(0);
  });
});

const STATS_POLICY = `domain: mongo_cps
descriptors:
  - key: database
    value: users
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: message_type
    value: marketing
    descriptors:
      - key: to_number
        shadow_mode: true
        rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: remote_address
    detailed_metric: true
    rate_limit: { unit: minute, requests_per_unit: 100 }
`;

describe("envoyproxy/ratelimit's stat names on /metrics", () => {
  let dir: string;
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-stats-"));
    await writeFile(join(dir, "mongo.yaml"), STATS_POLICY);
    sluice = await startSluice(["--policy", dir]);
    client = createRlsClient(sluice.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (...entries: [string, string][]) =>
    client.shouldRateLimit({
      domain: "mongo_cps",
      descriptors: [{ entries: entries.map(([key, value]) => ({ key, value })) }],
    });

  it("counts each rule's hits under the reference's Prometheus names, labelled by key path, not request values", async () => {
    for (let i = 0; i < 3; i++) await call(["database", "users"]);
    // The same number twice (its own counter, over the shadow limit of 1), then another number.
    for (const n of ["555-0001", "555-0001", "555-0002"])
      await call(["message_type", "marketing"], ["to_number", n]);
    const text = await scrape(sluice.adminUrl);
    const users = 'domain="mongo_cps",key1="database_users",key2=""';
    const marketing = 'domain="mongo_cps",key1="message_type_marketing",key2="to_number"';
    expect(seriesValue(text, `ratelimit_service_rate_limit_total_hits{${users}}`)).toBe(3);
    expect(seriesValue(text, `ratelimit_service_rate_limit_within_limit{${users}}`)).toBe(2);
    expect(seriesValue(text, `ratelimit_service_rate_limit_over_limit{${users}}`)).toBe(1);
    expect(seriesValue(text, `ratelimit_service_rate_limit_total_hits{${marketing}}`)).toBe(3);
    expect(seriesValue(text, `ratelimit_service_rate_limit_shadow_mode{${marketing}}`)).toBe(1);
    // Two phone numbers, one series: request values stay out of the labels.
    expect(text).not.toContain("555-000");
  });

  it("puts request values in only under detailed_metric, sanitized as the reference does", async () => {
    await call(["remote_address", "10.0.0.1"]);
    const text = await scrape(sluice.adminUrl);
    expect(
      seriesValue(
        text,
        'ratelimit_service_rate_limit_total_hits{domain="mongo_cps",key1="remote_address_10_0_0_1",key2=""}',
      ),
    ).toBe(1);
  });
});
