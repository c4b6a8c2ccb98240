import { describe, expect, it } from "vitest";
import { parsePolicyFile } from "./parse-policy-file.ts";
import { formatPolicyError } from "./policy-types.ts";

const errorsOf = (text: string): string[] => {
  const parsed = parsePolicyFile("p.yaml", text);
  return parsed.ok ? [] : parsed.errors.map(formatPolicyError);
};
const node = (body: string): string => `domain: d\ndescriptors:\n  - key: a\n${body}`;

describe("parsePolicyFile: what loads", () => {
  it.each<[string, string]>([
    ["a file with only a domain", "domain: d\n"],
    ["a leading document marker and trailing empty documents", "---\ndomain: d\n---\n...\n"],
    [
      "null values as absent fields, as yaml.v2 reads them",
      node("    value:\n    descriptors: ~\n    rate_limit:\n"),
    ],
    [
      "YAML 1.1 booleans (yaml.v2)",
      node("    shadow_mode: yes\n    detailed_metric: off\n    quota_mode: On\n"),
    ],
    [
      "digit separators in counts (yaml.v2)",
      node("    rate_limit: { unit: minute, requests_per_unit: 1_000 }\n"),
    ],
    ["a count written as a whole float", node("    rate_limit: { unit: minute, requests_per_unit: 10.0 }\n")],
    [
      "unlimited with an ignored count, as the reference allows",
      node("    rate_limit: { unlimited: true, requests_per_unit: 5 }\n"),
    ],
    ["rate_limits holding one unlimited entry", node("    rate_limits: [{ unlimited: true }]\n")],
  ])("%s", (_name, text) => {
    expect(errorsOf(text)).toEqual([]);
  });

  it("reads numbers, booleans and dates as text where text is expected, in their source spelling", () => {
    const parsed = parsePolicyFile(
      "p.yaml",
      "domain: 123\ndescriptors:\n  - { key: yes, value: 0x1F }\n  - { key: n, value: 2024-01-01 }\n",
    );
    expect(parsed.ok && parsed.spec.domain).toBe("123");
    expect(parsed.ok && parsed.spec.descriptors.map((d) => [d.key, d.value])).toEqual([
      ["yes", "0x1F"],
      ["n", "2024-01-01"],
    ]);
  });

  it.each(["unavailable", "allow", "deny", "local"])("reads failure_policy: %s", (policy) => {
    const parsed = parsePolicyFile("p.yaml", `domain: d\nfailure_policy: ${policy}\n`);
    expect(parsed.ok && parsed.spec.failurePolicy).toBe(policy);
  });

  it("leaves failure_policy unset when the file does not name one", () => {
    const parsed = parsePolicyFile("p.yaml", "domain: d\n");
    expect(parsed.ok && parsed.spec.failurePolicy).toBeUndefined();
  });

  it("honours merge keys, explicit keys winning over merged ones", () => {
    const parsed = parsePolicyFile(
      "p.yaml",
      node(
        "    metadata: { base: &base { unit: hour, requests_per_unit: 1 } }\n    rate_limit: { <<: *base, requests_per_unit: 7 }\n",
      ),
    );
    expect(parsed.ok && parsed.spec.descriptors[0]?.limit).toEqual({
      kind: "windows",
      windows: [{ unit: "hour", requestsPerUnit: 7, name: undefined, replaces: [] }],
    });
  });
});

describe("parsePolicyFile: what the reference loads leniently, loaded alike with a warning", () => {
  const warningsOf = (text: string): string[] => {
    const parsed = parsePolicyFile("p.yaml", text);
    if (!parsed.ok) throw new Error(parsed.errors.map(formatPolicyError).join("\n"));
    return parsed.warnings.map(formatPolicyError);
  };

  it("keeps the last of a repeated key (yaml.v2 Unmarshal), warning at the repeat", () => {
    const text = node("    rate_limit:\n      unit: minute\n      requests_per_unit: 10\n      unit: hour\n");
    const parsed = parsePolicyFile("p.yaml", text);
    expect(parsed.ok && parsed.spec.descriptors[0]?.limit).toEqual({
      kind: "windows",
      windows: [{ unit: "hour", requestsPerUnit: 10, name: undefined, replaces: [] }],
    });
    expect(warningsOf(text)).toEqual([
      "p.yaml: descriptors[0].rate_limit.unit: duplicate key; the last one is used, as envoyproxy/ratelimit does",
    ]);
  });

  it("lets a repeated key's null value clear the field, as yaml.v2 does", () => {
    const parsed = parsePolicyFile("p.yaml", node("    value: x\n    value:\n"));
    expect(parsed.ok && parsed.spec.descriptors[0]?.value).toBeUndefined();
  });

  it("reads a rate_limit without requests_per_unit as 0, which refuses every request", () => {
    const text = node("    rate_limit: { unit: minute }\n");
    const parsed = parsePolicyFile("p.yaml", text);
    expect(parsed.ok && parsed.spec.descriptors[0]?.limit).toEqual({
      kind: "windows",
      windows: [{ unit: "minute", requestsPerUnit: 0, name: undefined, replaces: [] }],
    });
    expect(warningsOf(text)).toEqual([
      "p.yaml: descriptors[0].rate_limit.requests_per_unit: missing; read as 0 as envoyproxy/ratelimit does, so every request this rule matches is over the limit",
    ]);
  });

  it("reads only the first of several documents, as yaml.v2 Unmarshal does", () => {
    const text = "domain: a\n---\ndomain: b\n";
    const parsed = parsePolicyFile("p.yaml", text);
    expect(parsed.ok && parsed.spec.domain).toBe("a");
    expect(warningsOf(text)).toEqual([
      "p.yaml: line 2, column 1: a second YAML document; it and any after it are ignored, as envoyproxy/ratelimit ignores them (one file holds one domain)",
    ]);
  });

  it("ignores YAML errors inside a document after the first, as the reference never reads it", () => {
    expect(warningsOf("domain: a\n---\n[unclosed\n")).toHaveLength(1);
  });

  it("loads share_threshold on a key ending in '*' (the reference's test is the key_value ending in '*')", () => {
    const text =
      "domain: d\ndescriptors:\n  - key: 'files*'\n    share_threshold: true\n    rate_limit: { unit: minute, requests_per_unit: 1 }\n";
    const parsed = parsePolicyFile("p.yaml", text);
    expect(parsed.ok && parsed.spec.descriptors[0]?.key).toBe("files*");
    expect(warningsOf(text)).toEqual([
      "p.yaml: descriptors[0].share_threshold: on key 'files*' without a value; loaded as envoyproxy/ratelimit loads it, but Sluice matches keys literally and shares counters only across a wildcard value, so this rule counts entries whose key is exactly 'files*' (write key: files, value: '*' for a shared counter)",
    ]);
  });

  it("warns about nothing in a strict file", () => {
    expect(warningsOf(node("    rate_limit: { unit: minute, requests_per_unit: 1 }\n"))).toEqual([]);
  });
});

describe("parsePolicyFile: what is refused", () => {
  it.each<[string, string, string[]]>([
    ["an empty file", "", ["domain: required (the file is empty)"]],
    ["a comment-only file", "# nothing\n", ["domain: required (the file is empty)"]],
    ["a list at the top", "- a\n", ["(root): expected a mapping with domain and descriptors"]],
    [
      "a collection as a key",
      "? [a]\n: 1\ndomain: d\n",
      ["(root): mapping keys must be plain text, got a list"],
    ],
    [
      "descriptors as a mapping",
      "domain: d\ndescriptors: {}\n",
      ["descriptors: expected a list, got a mapping"],
    ],
    [
      "list items that are not mappings",
      "domain: d\ndescriptors:\n  - 3\n  - ~\n",
      ["descriptors[0]: expected a mapping, got 3", "descriptors[1]: expected a mapping, got null"],
    ],
    [
      "an unknown top-level key",
      "domain: d\ndescriptor: []\n",
      ["descriptor: unknown key (allowed here: domain, descriptors, failure_policy)"],
    ],
    [
      "a quoted odd key, quoted in the path",
      'domain: d\n"a b": 1\n',
      ['["a b"]: unknown key (allowed here: domain, descriptors, failure_policy)'],
    ],
    [
      "a NUL in a key",
      'domain: d\ndescriptors:\n  - key: "a\\0b"\n',
      ["descriptors[0].key: must not contain a NUL character"],
    ],
    [
      "an empty value equal to a bare key (the reference treats them alike)",
      node("    value: ''\n  - key: a\n"),
      ["descriptors[1]: duplicate descriptor 'a' (already at descriptors[0])"],
    ],
    [
      "metadata that is not a mapping",
      node("    metadata: 3\n"),
      ["descriptors[0].metadata: expected a mapping, got 3"],
    ],
    [
      "an empty rate_limits",
      node("    rate_limits: []\n"),
      ["descriptors[0].rate_limits: must list at least one limit"],
    ],
    [
      "two windows of one unit, and unlimited among windows",
      node(
        "    rate_limits:\n      - { unit: minute, requests_per_unit: 1 }\n      - { unit: MINUTE, requests_per_unit: 2 }\n      - { unlimited: true }\n",
      ),
      [
        "descriptors[0].rate_limits[1].unit: unit 'minute' is already used by descriptors[0].rate_limits[0]",
        "descriptors[0].rate_limits[2].unlimited: an unlimited limit must be the only entry of rate_limits",
      ],
    ],
    [
      "replaces entries without a usable name",
      node(
        "    rate_limit: { unit: minute, requests_per_unit: 1, replaces: [{}, { name: '' }, { name: [1] }] }\n",
      ),
      [
        "descriptors[0].rate_limit.replaces[0].name: required: the name of the limit to replace",
        "descriptors[0].rate_limit.replaces[1].name: must not be empty",
        "descriptors[0].rate_limit.replaces[2].name: expected a string, got a list",
      ],
    ],
    [
      "an unlimited limit replacing itself",
      node("    rate_limit: { unlimited: true, name: u, replaces: [{ name: u }] }\n"),
      ["descriptors[0].rate_limit.replaces[0].name: a limit cannot replace itself ('u')"],
    ],
    [
      "a rate_limits entry without requests_per_unit (Sluice's own form stays strict)",
      node("    rate_limits: [{ unit: minute }]\n"),
      ["descriptors[0].rate_limits[0].requests_per_unit: required unless unlimited is true"],
    ],
    [
      "share_threshold on a value without '*'",
      node("    value: eng\n    share_threshold: true\n"),
      [
        "descriptors[0].share_threshold: needs a wildcard value (one containing '*') to share a counter across",
      ],
    ],
    [
      "a limit with no unit",
      node("    rate_limit: { requests_per_unit: 1 }\n"),
      [
        "descriptors[0].rate_limit.unit: required unless unlimited is true (one of second, minute, hour, day, week, month, year)",
      ],
    ],
    [
      "an unknown failure policy",
      "domain: d\nfailure_policy: shrug\n",
      ['failure_policy: expected one of unavailable, allow, deny, local, got "shrug"'],
    ],
    [
      "a failure policy that is not text",
      "domain: d\nfailure_policy: [allow]\n",
      ["failure_policy: expected a string, got a list"],
    ],
    [
      "a merge key pointing at its own mapping",
      "domain: d\ndescriptors:\n  - &n { key: a, <<: *n }\n",
      ["(root): aliases expand too much (over 100); refusing a possible alias bomb"],
    ],
  ])("%s", (_name, text, expected) => {
    expect(errorsOf(text)).toEqual(expected.map((message) => `p.yaml: ${message}`));
  });
});
