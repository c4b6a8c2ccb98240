import { describe, expect, it } from "vitest";
import { buildPolicyTable } from "./build-policy-table.ts";
import type { PolicyTable } from "./policy-types.ts";

const POLICY = `
domain: q
descriptors:
  - key: tenant
    rate_limit: { unit: minute, requests_per_unit: 10 }
    descriptors:
      - key: plan
        value: free
        rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: region
    value: eu*
    rate_limit: { unit: hour, requests_per_unit: 5 }
  - key: api
    descriptors:
      - key: tenant
        rate_limit: { unit: second, requests_per_unit: 1 }
`;

function table(): PolicyTable {
  const built = buildPolicyTable([{ file: "q.yaml", text: POLICY }]);
  if (!built.ok) throw new Error(JSON.stringify(built.errors));
  return built.table;
}

describe("bucketEntries", () => {
  const policy = table();
  const entries = (bucket: Record<string, string>) => policy.bucketEntries?.("q", bucket);

  it.each([
    ["one key", { tenant: "acme" }, [["tenant", "acme"]]],
    [
      "the tree's order, not the map's or the alphabet's",
      { plan: "free", tenant: "acme" },
      [
        ["tenant", "acme"],
        ["plan", "free"],
      ],
    ],
    ["a key the tree cannot place is left out", { name: "tenant", tenant: "acme" }, [["tenant", "acme"]]],
    [
      "a key with no node at the next level ends the walk",
      { tenant: "acme", plan: "paid" },
      [["tenant", "acme"]],
    ],
    ["wildcard values place a key", { region: "eu-west" }, [["region", "eu-west"]]],
    ["a value no node takes places nothing", { region: "us-east" }, []],
    [
      "several keys reach the top level: the first in string order wins",
      { tenant: "acme", api: "v1" },
      [
        ["api", "v1"],
        ["tenant", "acme"],
      ],
    ],
    ["no key reaches the top level", { name: "x" }, []],
  ])("%s", (_, bucket, expected) => {
    expect(entries(bucket)).toEqual(expected.map(([key, value]) => ({ key, value })));
  });

  it("gives the entries the RLS descriptor of the same rule has, so both share one counter", () => {
    const fromBucket = entries({ plan: "free", tenant: "acme" }) ?? [];
    const rls = [
      { key: "tenant", value: "acme" },
      { key: "plan", value: "free" },
    ];
    expect(policy.match("q", fromBucket)?.counterId).toBe(policy.match("q", rls)?.counterId);
    expect(policy.match("q", fromBucket)?.windows[0]?.requestsPerUnit).toBe(2);
  });

  it("answers undefined for a domain the policy does not define", () => {
    expect(policy.bucketEntries?.("other", { tenant: "acme" })).toBeUndefined();
  });
});
