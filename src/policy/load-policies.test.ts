import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeDomain } from "./describe-domain.ts";
import { loadPolicies } from "./load-policies.ts";
import { formatPolicyError, type PolicyLoadResult, type PolicyTable } from "./policy-types.ts";

// Relative to the working directory, so messages read as an operator would see them.
const FIXTURES = relative(
  process.cwd(),
  fileURLToPath(new URL("../../test/fixtures/policies", import.meta.url)),
);
const SAMPLE = relative(process.cwd(), fileURLToPath(new URL("../../deploy/policies", import.meta.url)));
const fixture = (name: string): string => join(FIXTURES, name);

function messages(result: PolicyLoadResult): string[] {
  return result.ok ? [] : result.errors.map(formatPolicyError);
}

async function loadTable(...paths: string[]): Promise<PolicyTable> {
  const result = await loadPolicies(paths);
  if (!result.ok) throw new Error(messages(result).join("\n"));
  return result.table;
}

const UNITS = "second, minute, hour, day, week, month, year";
const LIMIT_KEYS = "unit, requests_per_unit, unlimited, name, replaces";

describe("loadPolicies: each failure fixture names its file and key path", () => {
  it.each<[string, string[]]>([
    [
      "bad-unknown-key.yaml",
      [`descriptors[0].rate_limit.requests_per_minute: unknown key (allowed here: ${LIMIT_KEYS})`],
    ],
    [
      "bad-unit.yaml",
      [`descriptors[0].rate_limit.unit: invalid unit 'fortnight' (expected one of ${UNITS})`],
    ],
    [
      "bad-unlimited-with-unit.yaml",
      ["descriptors[0].rate_limit.unit: must not be set when unlimited is true"],
    ],
    [
      "bad-self-replaces.yaml",
      ["descriptors[0].rate_limit.replaces[0].name: a limit cannot replace itself ('tenant_limit')"],
    ],
    [
      "bad-duplicate-descriptor.yaml",
      [
        "descriptors[0].descriptors[1]: duplicate descriptor 'plan=free' (already at descriptors[0].descriptors[0])",
      ],
    ],
    [
      "bad-duplicate-bare-key.yaml",
      ["descriptors[1]: duplicate descriptor 'remote_address' (already at descriptors[0])"],
    ],
    [
      "bad-both-rate-limit-forms.yaml",
      ["descriptors[0].rate_limits: cannot be combined with rate_limit on one descriptor; use one of them"],
    ],
    [
      "bad-wrong-type.yaml",
      [
        "descriptors[0].rate_limit.requests_per_unit: expected an integer from 0 to 4294967295, got '10' (text)",
        "descriptors[0].shadow_mode: expected true or false, got 'sometimes' (text)",
      ],
    ],
    ["bad-alias-bomb.yaml", ["(root): aliases expand too much (over 100); refusing a possible alias bomb"]],
    [
      "bad-deep-nesting.yaml",
      [`${"descriptors[0].".repeat(32)}descriptors: descriptors nested deeper than 32 levels`],
    ],
    ["bad-missing-key.yaml", ["descriptors[0].key: required"]],
    ["bad-missing-domain.yaml", ["domain: required"]],
    ["bad-empty-domain.yaml", ["domain: must not be empty"]],
    [
      "bad-requests-per-unit.yaml",
      [
        "descriptors[0].rate_limit.requests_per_unit: must be between 0 and 4294967295, got -1",
        "descriptors[1].rate_limit.requests_per_unit: must be a whole number, got 2.5",
        "descriptors[2].rate_limit.requests_per_unit: must be between 0 and 4294967295, got 4294967296",
      ],
    ],
    [
      "bad-share-threshold.yaml",
      [
        "descriptors[0].share_threshold: needs a wildcard value (one containing '*') to share a counter across",
      ],
    ],
    [
      "bad-count-rejected.yaml",
      ["descriptors[0].count_rejected: only allowed on a descriptor with rate_limit or rate_limits"],
    ],
    [
      "bad-many-errors.yaml",
      [
        `descriptors[0].rate_limit.unit: invalid unit 'minutes' (expected one of ${UNITS})`,
        "descriptors[1].key: must not be empty",
        "descriptors[2].shadow_mode: expected true or false, got 1",
        "descriptors[2].descriptors[0].colour: unknown key (allowed here: key, value, rate_limit, rate_limits, " +
          "descriptors, shadow_mode, quota_mode, detailed_metric, value_to_metric, share_threshold, count_rejected, metadata, " +
          "concurrency)",
        "descriptors[2].descriptors[0].rate_limit.unit: must not be set when unlimited is true",
      ],
    ],
  ])("%s", async (name, expected) => {
    const file = fixture(name);
    expect(messages(await loadPolicies([file]))).toEqual(expected.map((message) => `${file}: ${message}`));
  });

  it("names both files of a duplicate domain", async () => {
    const [a, b] = [fixture("dup-domain-a.yaml"), fixture("dup-domain-b.yaml")];
    expect(messages(await loadPolicies([a, b]))).toEqual([
      `${b}: domain: duplicate domain 'dup' (also defined in ${a}); set --merge-domain-config true to merge files of one domain`,
    ]);
  });

  it("collects the errors of every file, not only the first bad one", async () => {
    const paths = ["bad-unit.yaml", "good-empty.yaml", "bad-missing-key.yaml", "missing.yaml"].map(fixture);
    expect(messages(await loadPolicies(paths))).toEqual([
      `${fixture("missing.yaml")}: (root): cannot read: no such file or directory`,
      `${fixture("bad-unit.yaml")}: descriptors[0].rate_limit.unit: invalid unit 'fortnight' (expected one of ${UNITS})`,
      `${fixture("bad-missing-key.yaml")}: descriptors[0].key: required`,
    ]);
  });
});

describe("loadPolicies: what the reference loads leniently loads here, with a warning naming file and path", () => {
  it.each<[string, string[]]>([
    [
      "warn-duplicate-key.yaml",
      ["descriptors[0].rate_limit.unit: duplicate key; the last one is used, as envoyproxy/ratelimit does"],
    ],
    [
      "warn-missing-requests-per-unit.yaml",
      [
        "descriptors[0].rate_limit.requests_per_unit: missing; read as 0 as envoyproxy/ratelimit does, so every request this rule matches is over the limit",
      ],
    ],
    [
      "warn-second-document.yaml",
      [
        "line 7, column 1: a second YAML document; it and any after it are ignored, as envoyproxy/ratelimit ignores them (one file holds one domain)",
      ],
    ],
    [
      "warn-share-threshold-key.yaml",
      [expect.stringMatching(/^descriptors\[0\]\.share_threshold: on key 'files\*' without a value; /)],
    ],
  ])("%s", async (name, expected) => {
    const file = fixture(name);
    const result = await loadPolicies([file]);
    expect(messages(result)).toEqual([]);
    expect(result.ok && result.warnings.map(formatPolicyError)).toEqual(
      expected.map((message) =>
        typeof message === "string" ? `${file}: ${message}` : expect.stringContaining(file),
      ),
    );
    expect(result.ok && [...result.table.domains.keys()]).toEqual(["lenient"]);
  });

  it("matches the last of a repeated key: the duplicate-key fixture limits per hour", async () => {
    const rule = (await loadTable(fixture("warn-duplicate-key.yaml"))).match("lenient", [
      { key: "tenant", value: "t" },
    ]);
    expect(rule?.windows).toEqual([{ unit: "hour", requestsPerUnit: 10, name: undefined, replaces: [] }]);
  });
});

describe("loadPolicies: files of one domain with mergeDomains (MERGE_DOMAIN_CONFIG)", () => {
  const [a, b] = [fixture("dup-domain-a.yaml"), fixture("dup-domain-b.yaml")];

  it("merges their rules into one domain naming both files", async () => {
    const result = await loadPolicies([a, b], { mergeDomains: true });
    if (!result.ok) throw new Error(messages(result).join("\n"));
    expect(describeDomain(result.table.domains.get("dup") ?? { domain: "", file: "", ruleCount: 0 })).toBe(
      `dup: 2 rules (${a}, ${b})`,
    );
    expect(result.table.match("dup", [{ key: "a", value: "1" }])).toBeDefined();
    expect(result.table.match("dup", [{ key: "b", value: "1" }])).toBeDefined();
  });

  it("refuses a descriptor both files define, as the reference does", async () => {
    const result = await loadPolicies([a, a.replace("dup-domain-a", "dup-domain-a-again")], {
      mergeDomains: true,
    });
    expect(messages(result)).toEqual([
      expect.stringMatching(
        /dup-domain-a-again\.yaml: descriptors\[0\]: duplicate descriptor 'a' in domain 'dup' \(already at descriptors\[0\] of .*dup-domain-a\.yaml\)$/,
      ),
    ]);
  });

  it("refuses two different failure policies for one domain", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-merge-"));
    try {
      await writeFile(join(dir, "a.yaml"), "domain: m\nfailure_policy: allow\ndescriptors: [{ key: a }]\n");
      await writeFile(join(dir, "b.yaml"), "domain: m\nfailure_policy: deny\ndescriptors: [{ key: b }]\n");
      expect(messages(await loadPolicies([dir], { mergeDomains: true }))).toEqual([
        `${join(dir, "b.yaml")}: failure_policy: 'deny' conflicts with 'allow' set for domain 'm' in ${join(dir, "a.yaml")}`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("loadPolicies: good policies", () => {
  it("loads the sample policy and matches its plans as the plan page describes", async () => {
    const result = await loadPolicies([SAMPLE]);
    expect(result.ok && result.files).toEqual([join(SAMPLE, "api.yaml")]);
    const table = await loadTable(SAMPLE);
    expect(describeDomain(table.domains.get("api") ?? { domain: "", file: "", ruleCount: 0 })).toBe(
      `api: 9 rules (${join(SAMPLE, "api.yaml")})`,
    );
    const plan = (tenant: string, name: string, ...more: [string, string][]) =>
      table.match("api", [
        { key: "tenant", value: tenant },
        { key: "plan", value: name },
        ...more.map(([key, value]) => ({ key, value })),
      ]);
    const windows = (tenant: string, name: string, ...more: [string, string][]) =>
      plan(tenant, name, ...more)?.windows.map((w) => `${w.requestsPerUnit}/${w.unit}`);

    expect(windows("acme", "free")).toEqual(["20/minute", "1000/day"]);
    expect(windows("acme", "starter")).toEqual(["60/minute", "10000/day"]);
    expect(windows("acme", "pro")).toEqual(["300/minute", "100000/day"]);
    expect(windows("acme", "enterprise")).toEqual(["1000/minute"]);
    expect(windows("megacorp", "enterprise")).toEqual(["5000/minute"]);
    expect(windows("megacorp", "pro")).toEqual(["1000/minute"]);
    expect(windows("acme", "free", ["route", "bulk"])).toEqual(["10/minute"]);
    expect(plan("acme", "pro", ["route", "bulk"])).toBeUndefined();
    expect(plan("acme", "platinum")).toBeUndefined();
    // Per tenant: one counter per tenant, whichever API key the request came with.
    expect(plan("acme", "free")?.counterId).toBe('["api",["tenant","acme"],["plan","free"]]');
    expect(plan("acme", "free")?.ruleId).toBe("free_per_minute");

    const health = (ip: string) =>
      table.match("api", [
        { key: "route", value: "health" },
        { key: "remote_address", value: ip },
      ]);
    expect(health("10.0.0.1")?.windows).toEqual([
      { unit: "minute", requestsPerUnit: 60, name: "health_per_ip", replaces: [] },
    ]);
    expect(health("10.0.0.1")?.counterId).not.toBe(health("10.0.0.2")?.counterId);
    expect(table.match("api", [{ key: "api_key", value: "k1" }])?.windows).toEqual([
      { unit: "hour", requestsPerUnit: 1000, name: "api_key_per_hour", replaces: [] },
    ]);
  });

  it("loads a reference-format config with every reference key, matching it the reference's way", async () => {
    const table = await loadTable(fixture("good-reference.yaml"));
    const one = (key: string, value: string) => table.match("reference", [{ key, value }]);
    expect(one("database", "users")?.windows[0]).toMatchObject({ unit: "second", requestsPerUnit: 500 });
    expect(one("remote_address", "50.0.0.5")?.windows[0]?.requestsPerUnit).toBe(0);
    expect(one("remote_address", "50.0.0.6")?.windows[0]?.requestsPerUnit).toBe(10);
    expect(one("ldap", "x")).toMatchObject({ unlimited: true, windows: [] });
    expect(one("to_number", "2061111111")).toMatchObject({
      ruleId: "to_number=2061111111",
      detailedMetric: true,
    });
    expect(one("route", "api-v2")).toMatchObject({ ruleId: "route=api-v2", windows: [{ unit: "minute" }] });
    expect(one("team", "eng-a")?.counterId).toBe(one("team", "eng-b")?.counterId);
    expect(one("budget", "b")).toMatchObject({ quotaMode: true, windows: [{ unit: "week" }] });
    expect(one("period", "month")?.windows[0]?.unit).toBe("month");
    expect(one("period", "year")?.windows[0]?.unit).toBe("year");
    expect(one("status", "500")?.windows[0]).toMatchObject({ unit: "hour", requestsPerUnit: 3 });
    expect(one("message_type", "marketing")).toMatchObject({ windows: [] }); // a placeholder: whitelisted
    const pair = (k1: string, v1: string, k2: string, v2: string) =>
      table.match("reference", [
        { key: k1, value: v1 },
        { key: k2, value: v2 },
      ]);
    expect(pair("message_type", "marketing", "to_number", "1")?.windows[0]).toMatchObject({ unit: "day" });
    expect(pair("service", "s", "user", "user-a")).toMatchObject({ shadowMode: true });
    expect(pair("key_2", "value_2", "user", "bkthomps")?.windows[0]?.replaces).toEqual(["specific_limit"]);
  });

  it("loads Sluice's extensions: several windows, count_rejected, metadata, anchors and merge keys", async () => {
    const table = await loadTable(fixture("good-sluice-extensions.yaml"));
    const one = (key: string, value: string) => table.match("extensions", [{ key, value }]);
    expect(one("tenant", "t")).toMatchObject({ countRejected: false });
    expect(one("tenant", "t")?.windows.map((w) => w.requestsPerUnit)).toEqual([5, 1000]);
    expect(one("region", "eu-1")?.windows[0]?.requestsPerUnit).toBe(100);
    expect(one("region", "us-1")?.windows[0]).toMatchObject({ unit: "minute", requestsPerUnit: 200 });
    expect(one("region", "ap-1")?.windows[0]?.requestsPerUnit).toBe(100);
  });

  it("loads the features fixture that black-box tests use", async () => {
    const table = await loadTable(fixture("features.yaml"));
    const one = (key: string, value: string) => table.match("features", [{ key, value }]);
    expect(one("shadow", "x")).toMatchObject({ shadowMode: true });
    expect(one("replace_override", "x")?.windows[0]?.replaces).toEqual(["base_limit"]);
    expect(one("path", "/v1/leads")?.windows[0]?.requestsPerUnit).toBe(3);
    expect(one("path", "/v2/leads")).toBeUndefined();
    expect(one("shared", "team-a")?.counterId).toBe(one("shared", "team-b")?.counterId);
    for (const unit of ["second", "minute", "hour", "day", "week", "month", "year"]) {
      expect(one("unit", unit)?.windows).toEqual([
        { unit, requestsPerUnit: 2, name: undefined, replaces: [] },
      ]);
    }
    expect(one("quota", "x")).toMatchObject({ quotaMode: true });
    expect(one("unlimited", "x")).toMatchObject({ unlimited: true });
    expect(one("whitelist", "x")).toMatchObject({ unlimited: false, windows: [] });
    expect(one("count_rejected_off", "x")).toMatchObject({ countRejected: false });
  });

  it("loads a file with only a domain as 0 rules", async () => {
    const table = await loadTable(fixture("good-empty.yaml"));
    expect(table.domains.get("empty")?.ruleCount).toBe(0);
  });

  it("reads a directory's visible *.yaml and *.yml files in name order", async () => {
    const result = await loadPolicies([join(FIXTURES, "multi")]);
    expect(result.ok && result.files).toEqual([
      join(FIXTURES, "multi", "a.yaml"),
      join(FIXTURES, "multi", "b.yml"),
    ]);
    expect(result.ok && [...result.table.domains.keys()]).toEqual(["multi-a", "multi-b"]);
  });
});

describe("loadPolicies: a Kubernetes ConfigMap mount", () => {
  let dir = "";
  beforeAll(async () => {
    // The layout kubelet writes: data in a timestamped dir, `..data` pointing at it, keys as symlinks.
    dir = await mkdtemp(join(tmpdir(), "sluice-configmap-"));
    await mkdir(join(dir, "..2024_01_01_00_00_00.1"));
    await writeFile(
      join(dir, "..2024_01_01_00_00_00.1", "api.yaml"),
      "domain: cm\ndescriptors:\n  - key: k\n",
    );
    await symlink("..2024_01_01_00_00_00.1", join(dir, "..data"));
    await symlink(join("..data", "api.yaml"), join(dir, "api.yaml"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("follows the visible symlinks and skips the hidden directories", async () => {
    const result = await loadPolicies([dir]);
    expect(result.ok && result.files).toEqual([join(dir, "api.yaml")]);
    expect(result.ok && result.table.hasDomain("cm")).toBe(true);
  });
});

describe("loadPolicies: nothing to load", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-empty-"));
    await writeFile(join(dir, "notes.txt"), "not a policy\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a directory with no policy file, naming it, rather than loading no limits", async () => {
    expect(messages(await loadPolicies([dir]))).toEqual([
      `${dir}: (root): no domain: no *.yaml or *.yml policy file here; a policy without domains would limit nothing`,
    ]);
  });

  it("names every path when none of them holds a policy file", async () => {
    const result = await loadPolicies([dir, dir]);
    expect(!result.ok && result.errors.map((e) => e.file)).toEqual([`${dir}, ${dir}`]);
  });
});
