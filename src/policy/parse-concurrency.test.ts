import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadPolicies } from "./load-policies.ts";
import { parsePolicyFile } from "./parse-policy-file.ts";
import { formatPolicyError } from "./policy-types.ts";

const FIXTURES = relative(
  process.cwd(),
  fileURLToPath(new URL("../../test/fixtures/policies", import.meta.url)),
);

async function errorsOf(name: string): Promise<string[]> {
  const result = await loadPolicies([join(FIXTURES, name)]);
  return result.ok ? [] : result.errors.map(formatPolicyError);
}

describe("concurrency: what loads", () => {
  it("reads max, queue_timeout, lease_ttl and name, and matches them with the node's counter", async () => {
    const result = await loadPolicies([join(FIXTURES, "good-concurrency.yaml")]);
    if (!result.ok) throw new Error(result.errors.map(formatPolicyError).join("\n"));
    const pro = result.table.match("concurrency", [
      { key: "tenant", value: "acme" },
      { key: "plan", value: "pro" },
    ]);
    expect(pro?.concurrency).toEqual({
      name: "pro_in_flight",
      ruleId: "pro_in_flight",
      max: 20,
      queueTimeoutMs: 500,
      leaseTtlMs: 60_000,
    });
    expect(pro?.windows).toHaveLength(1);
    expect(pro?.counterId).toBe(JSON.stringify(["concurrency", ["tenant", "acme"], ["plan", "pro"]]));
  });

  it("defaults to no queue and a 60s lease, and labels an unnamed limit by its key path", async () => {
    const result = await loadPolicies([join(FIXTURES, "good-concurrency.yaml")]);
    if (!result.ok) throw new Error("did not load");
    const other = result.table.match("concurrency", [
      { key: "tenant", value: "acme" },
      { key: "plan", value: "free" },
    ]);
    expect(other?.concurrency).toEqual({
      name: undefined,
      ruleId: "tenant.plan.concurrency",
      max: 2,
      queueTimeoutMs: 0,
      leaseTtlMs: 60_000,
    });
    // A concurrency-only node decides something, so it counts as a rule.
    expect(result.table.domains.get("concurrency")?.ruleCount).toBe(2);
  });

  it("accepts the bounds themselves", () => {
    const text =
      "domain: d\ndescriptors:\n  - key: k\n    concurrency: { max: 1, queue_timeout: 60s, lease_ttl: 24h }\n" +
      "  - key: j\n    concurrency: { max: 4294967295, queue_timeout: 0ms, lease_ttl: 1s }\n";
    const parsed = parsePolicyFile("p.yaml", text);
    expect(parsed.ok).toBe(true);
  });
});

describe("concurrency: each failure fixture names its file and key path", () => {
  it.each<[string, string[]]>([
    [
      "bad-concurrency-max.yaml",
      [
        "descriptors[0].concurrency.max: required: how many requests may be in flight at once",
        "descriptors[1].concurrency.burst: unknown key (allowed here: max, queue_timeout, lease_ttl, name)",
        "descriptors[1].concurrency.max: must be at least 1 (a limit of 0 would refuse every request)",
      ],
    ],
    [
      "bad-concurrency-duration.yaml",
      [
        "descriptors[0].concurrency.queue_timeout: expected a duration with a unit such as 500ms, 60s or 2m, got '500'",
        "descriptors[1].concurrency.queue_timeout: must be between 0s and 1m, got 2m",
        "descriptors[1].concurrency.lease_ttl: must be between 1s and 24h, got 100ms",
      ],
    ],
    [
      "bad-concurrency-shadow.yaml",
      ["descriptors[0].concurrency: cannot be combined with shadow_mode on one descriptor"],
    ],
    [
      "bad-reserved-lease-key.yaml",
      ["descriptors[0].key: 'lease_acquire' is reserved for concurrency leases and cannot be a policy key"],
    ],
  ])("%s", async (name, expected) => {
    const errors = await errorsOf(name);
    expect(errors.map((e) => e.replace(`${join(FIXTURES, name)}: `, ""))).toEqual(expected);
    for (const error of errors) expect(error.startsWith(join(FIXTURES, name))).toBe(true);
  });

  it("refuses quota_mode with a concurrency limit too, and a block that is not a mapping", () => {
    const text =
      "domain: d\ndescriptors:\n  - key: k\n    quota_mode: true\n    rate_limit: { unit: second, requests_per_unit: 1 }\n" +
      "    concurrency: { max: 1 }\n  - key: j\n    concurrency: 5\n";
    const parsed = parsePolicyFile("p.yaml", text);
    expect(parsed.ok ? [] : parsed.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      "descriptors[0].concurrency: cannot be combined with quota_mode on one descriptor",
      "descriptors[1].concurrency: expected a mapping, got 5",
    ]);
  });
});
