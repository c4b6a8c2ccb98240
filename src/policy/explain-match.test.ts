import { describe, expect, it } from "vitest";
import { policyTableOf } from "../../test/support/policy-table.ts";
import type { DescriptorEntry, PolicyTable } from "./policy-types.ts";

const POLICY = `
domain: api
descriptors:
  - key: tenant
    descriptors:
      - key: plan
        value: free
        rate_limit: { name: free_per_minute, unit: minute, requests_per_unit: 20 }
        concurrency: { name: free_in_flight, max: 2 }
        descriptors:
          - key: route
            value: bulk
            rate_limit: { name: free_bulk, unit: minute, requests_per_unit: 10 }
          - key: route
            value: "v1*"
            rate_limit: { name: free_v1, unit: minute, requests_per_unit: 5 }
          - key: route
            value: plain
            descriptors:
              - key: method
                value: POST
                rate_limit: { name: free_plain_post, unit: minute, requests_per_unit: 3 }
  - key: region
    value: "eu-*"
    share_threshold: true
    rate_limit: { unit: second, requests_per_unit: 9 }
`;

const table = (): PolicyTable => policyTableOf(POLICY, "api.yaml");

const entries = (text: string): DescriptorEntry[] =>
  text.split(",").map((pair) => {
    const [key = "", value = ""] = pair.split("=");
    return { key, value };
  });

describe("PolicyTable.explain", () => {
  it("names each entry's node kind, and the exact-valued limits below the matched node", () => {
    expect(table().explain?.("api", entries("tenant=acme,plan=free"))).toEqual({
      steps: [
        { key: "tenant", value: "acme", node: "bare", policyValue: undefined, shared: false },
        { key: "plan", value: "free", node: "exact", policyValue: "free", shared: false },
      ],
      limitedBelow: [
        [{ key: "route", value: "bulk" }],
        [
          { key: "route", value: "plain" },
          { key: "method", value: "POST" },
        ],
      ],
    });
  });

  it("reports a wildcard with its pattern and whether it shares one counter", () => {
    expect(table().explain?.("api", entries("region=eu-west"))?.steps).toEqual([
      { key: "region", value: "eu-west", node: "wildcard", policyValue: "eu-*", shared: true },
    ]);
    expect(table().explain?.("api", entries("tenant=a,plan=free,route=v1-users"))?.steps[2]).toMatchObject({
      node: "wildcard",
      policyValue: "v1*",
      shared: false,
    });
  });

  it("says where and why a descriptor matched nothing", () => {
    expect(table().explain?.("api", entries("tenant=acme,plan=gold"))).toEqual({
      steps: [{ key: "tenant", value: "acme", node: "bare", policyValue: undefined, shared: false }],
      unmatched: { index: 1, reason: "no-node" },
      limitedBelow: [],
    });
    expect(table().explain?.("api", entries("region=eu-1,zone=a"))?.unmatched).toEqual({
      index: 1,
      reason: "deeper-than-policy",
    });
  });

  it("knows no unknown domain", () => {
    expect(table().explain?.("web", entries("tenant=acme"))).toBeUndefined();
  });
});
