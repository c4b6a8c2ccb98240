import { describe, expect, it } from "vitest";
import { buildPolicyTable } from "./build-policy-table.ts";
import type { DescriptorEntry, MatchedRule, PolicyTable } from "./policy-types.ts";

const POLICY = `
domain: m
descriptors:
  # Exact beats wildcard beats bare key; wildcards in file order.
  - key: route
    value: v1-exact
    rate_limit: { name: exact, unit: minute, requests_per_unit: 1 }
  - key: route
    value: v1*
    rate_limit: { name: wild_first, unit: minute, requests_per_unit: 2 }
  - key: route
    value: v*
    rate_limit: { name: wild_second, unit: minute, requests_per_unit: 3 }
  - key: route
    value: "*-suffix"
    rate_limit: { name: wild_suffix, unit: minute, requests_per_unit: 4 }
  - key: route
    value: v2*
    rate_limit: { name: wild_late, unit: minute, requests_per_unit: 6 }
  - key: route
    rate_limit: { name: bare, unit: minute, requests_per_unit: 5 }

  # A limit at depth 1 with children: applies to 1-entry descriptors only.
  - key: parent
    rate_limit: { name: parent_limit, unit: hour, requests_per_unit: 10 }
    descriptors:
      - key: child
        rate_limit: { name: child_limit, unit: hour, requests_per_unit: 20 }
  # A leaf at depth 1: a 2-entry descriptor through it matches nothing.
  - key: leaf
    rate_limit: { name: leaf_limit, unit: hour, requests_per_unit: 30 }

  - key: whitelisted
  - key: free
    rate_limit: { unlimited: true }

  - key: team
    value: team-*
    share_threshold: true
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: org
    value: org-*
    rate_limit: { unit: minute, requests_per_unit: 2 }

  - key: tenant
    descriptors:
      - key: plan
        value: free
        rate_limits:
          - { unit: minute, requests_per_unit: 20 }
          - { unit: day, requests_per_unit: 1000 }
  - key: tenant
    value: megacorp
    descriptors:
      - key: plan
        value: free
        shadow_mode: true
        quota_mode: true
        count_rejected: false
        rate_limit: { unit: minute, requests_per_unit: 5000 }

  - key: detail
    detailed_metric: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: region
    value: eu-*
    value_to_metric: true
    descriptors:
      - key: user
        rate_limit: { unit: minute, requests_per_unit: 1 }
`;

function tableOf(text: string, file = "m.yaml"): PolicyTable {
  const built = buildPolicyTable([{ file, text }]);
  if (!built.ok) throw new Error(built.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
  return built.table;
}

const table = tableOf(POLICY);
const entries = (...pairs: [string, string][]): DescriptorEntry[] =>
  pairs.map(([key, value]) => ({ key, value }));
const match = (...pairs: [string, string][]): MatchedRule | undefined => table.match("m", entries(...pairs));

describe("matchDescriptor: which node applies", () => {
  it.each<[string, [string, string][], string | undefined]>([
    ["exact value beats wildcards and bare key", [["route", "v1-exact"]], "exact"],
    ["first wildcard in file order wins", [["route", "v1-other"]], "wild_first"],
    ["a later wildcard when earlier ones do not fit", [["route", "v2"]], "wild_second"],
    ["a suffix wildcard", [["route", "x-suffix"]], "wild_suffix"],
    ["a value spelling a pattern takes that rule before earlier wildcards", [["route", "v2*"]], "wild_late"],
    ["other values that pattern fits keep file order", [["route", "v2x"]], "wild_second"],
    ["bare key when no wildcard fits", [["route", "other"]], "bare"],
    ["a limit with children applies at its own depth", [["parent", "p"]], "parent_limit"],
    [
      "the child applies at depth 2",
      [
        ["parent", "p"],
        ["child", "c"],
      ],
      "child_limit",
    ],
    [
      "the depth-1 limit does not apply to a longer descriptor",
      [
        ["parent", "p"],
        ["other", "c"],
      ],
      undefined,
    ],
    [
      "a leaf does not apply to a longer descriptor",
      [
        ["leaf", "x"],
        ["more", "y"],
      ],
      undefined,
    ],
    ["an unknown key matches nothing", [["nope", "x"]], undefined],
    [
      "exact tenant node overrides the bare one",
      [
        ["tenant", "megacorp"],
        ["plan", "free"],
      ],
      "tenant=megacorp.plan=free",
    ],
    [
      "other tenants take the bare node",
      [
        ["tenant", "acme"],
        ["plan", "free"],
      ],
      "tenant.plan=free",
    ],
    [
      "the exact node never falls back to the bare one",
      [
        ["tenant", "megacorp"],
        ["plan", "pro"],
      ],
      undefined,
    ],
    ["a NUL in the request key matches nothing", [["route\0x", "y"]], undefined],
  ])("%s", (_name, pairs, ruleId) => {
    expect(match(...pairs)?.ruleId).toBe(ruleId);
  });

  it("matches nothing for an empty descriptor or an unknown domain", () => {
    expect(table.match("m", [])).toBeUndefined();
    expect(table.match("other", entries(["route", "v1-exact"]))).toBeUndefined();
    expect(table.hasDomain("m")).toBe(true);
    expect(table.hasDomain("other")).toBe(false);
  });

  it("returns the windows of the node, several for rate_limits", () => {
    expect(match(["tenant", "acme"], ["plan", "free"])?.windows).toEqual([
      { unit: "minute", requestsPerUnit: 20, name: undefined, replaces: [] },
      { unit: "day", requestsPerUnit: 1000, name: undefined, replaces: [] },
    ]);
  });

  it("whitelists a node without a limit, and marks unlimited ones", () => {
    expect(match(["whitelisted", "x"])).toMatchObject({
      windows: [],
      unlimited: false,
      ruleId: "whitelisted",
    });
    expect(match(["free", "x"])).toMatchObject({ windows: [], unlimited: true, ruleId: "free" });
  });

  it("carries the names an unlimited rule replaces", () => {
    const replacing = tableOf(
      "domain: m\ndescriptors:\n  - key: vip\n    rate_limit: { unlimited: true, replaces: [{ name: base }] }\n",
    );
    expect(replacing.match("m", entries(["vip", "x"]))).toMatchObject({
      unlimited: true,
      unlimitedReplaces: ["base"],
    });
    expect(match(["free", "x"])?.unlimitedReplaces).toEqual([]);
  });

  it("takes the modes from the final node", () => {
    expect(match(["tenant", "megacorp"], ["plan", "free"])).toMatchObject({
      shadowMode: true,
      quotaMode: true,
      countRejected: false,
      detailedMetric: false,
    });
    expect(match(["tenant", "acme"], ["plan", "free"])).toMatchObject({
      shadowMode: false,
      quotaMode: false,
      countRejected: true,
    });
  });
});

describe("matchDescriptor: counter identity", () => {
  it("is the domain and the request's entries, JSON-encoded", () => {
    expect(match(["tenant", "acme"], ["plan", "free"])?.counterId).toBe(
      '["m",["tenant","acme"],["plan","free"]]',
    );
  });

  it("is exactly the JSON array, whatever characters the values hold (store keys depend on it)", () => {
    for (const value of ['q"uote', "back\\slash", "new\nline", "nul\0", "ünïcødé ✓", "\ud800 lone"]) {
      expect(match(["tenant", value], ["plan", "free"])?.counterId).toBe(
        JSON.stringify(["m", ["tenant", value], ["plan", "free"]]),
      );
    }
  });

  it("differs for distinct values of a bare key or a plain wildcard", () => {
    expect(match(["tenant", "a"], ["plan", "free"])?.counterId).not.toBe(
      match(["tenant", "b"], ["plan", "free"])?.counterId,
    );
    expect(match(["org", "org-1"])?.counterId).not.toBe(match(["org", "org-2"])?.counterId);
  });

  it("is shared by every value a share_threshold wildcard matches", () => {
    const one = match(["team", "team-red"]);
    expect(one?.counterId).toBe('["m",["team","team-*","shared"]]');
    expect(match(["team", "team-blue"])?.counterId).toBe(one?.counterId);
    expect(match(["team", "team-*"])?.counterId).toBe(one?.counterId);
  });

  it("does not depend on the file name, so counters survive a reload", () => {
    const moved = tableOf(POLICY, "elsewhere/renamed.yaml");
    const request = entries(["tenant", "acme"], ["plan", "free"]);
    expect(moved.match("m", request)?.counterId).toBe(table.match("m", request)?.counterId);
  });

  it("keeps values holding separators apart: it decodes back to the entries", () => {
    const tricky = 'a"],["plan","free';
    const id = match(["tenant", tricky], ["plan", "free"])?.counterId ?? "";
    expect(JSON.parse(id)).toEqual(["m", ["tenant", tricky], ["plan", "free"]]);
    expect(id).not.toBe(match(["tenant", "a"], ["plan", "free"])?.counterId);
  });
});

describe("matchDescriptor: rule id for metrics", () => {
  it.each<[string, [string, string][], string, boolean]>([
    ["a named limit uses its name", [["route", "v1-exact"]], "exact", false],
    [
      "bare keys and exact values use the policy's key path",
      [
        ["tenant", "acme"],
        ["plan", "free"],
      ],
      "tenant.plan=free",
      false,
    ],
    ["wildcards keep the pattern", [["org", "org-9"]], "org=org-*", false],
    ["detailed_metric puts the request value in", [["detail", "abc"]], "detail=abc", true],
    [
      "value_to_metric puts that node's value in",
      [
        ["region", "eu-west"],
        ["user", "u1"],
      ],
      "region=eu-west.user",
      true,
    ],
  ])("%s", (_name, pairs, ruleId, detailed) => {
    expect(match(...pairs)).toMatchObject({ ruleId, detailedMetric: detailed });
  });
});
