import { describe, expect, it } from "vitest";
import { policyTableOf } from "../../../test/support/policy-table.ts";
import { parseExplainRequest, usageCall } from "./explain-request.ts";

const POLICY = `
domain: api
descriptors:
  - key: tenant
    descriptors:
      - key: plan
        value: free
        rate_limit: { name: free_per_minute, unit: minute, requests_per_unit: 20 }
        descriptors:
          - key: route
            value: bulk
            rate_limit: { name: free_bulk, unit: minute, requests_per_unit: 10 }
          - key: route
            rate_limit: { unit: minute, requests_per_unit: 5 }
`;

describe("parseExplainRequest", () => {
  it("reads protobuf's JSON form, camelCase or as in the .proto, numbers or strings", () => {
    const call = parseExplainRequest(
      JSON.stringify({
        domain: "api",
        hits_addend: "2",
        descriptors: [
          { entries: [{ key: "tenant", value: "acme" }], hitsAddend: 0 },
          { entries: [{ key: "ip", value: "1.2.3.4" }], limit: { requests_per_unit: 7, unit: "HOUR" } },
        ],
      }),
    );
    expect(call).toEqual({
      domain: "api",
      hitsAddend: 2,
      descriptors: [
        { entries: [{ key: "tenant", value: "acme" }], hitsAddend: 0, limitOverride: undefined },
        {
          entries: [{ key: "ip", value: "1.2.3.4" }],
          hitsAddend: undefined,
          limitOverride: { requestsPerUnit: 7, unit: "hour" },
        },
      ],
    });
  });

  it.each([
    ["{", /body: expected a JSON/],
    ["[]", /body: expected an object/],
    ['{"domain":"api"}', /descriptors: expected an array/],
    ['{"domain":"api","descriptors":[{"entries":[{"key":1}]}]}', /descriptors\[0\]\.entries\[0\]\.key/],
    ['{"domain":"api","descriptors":[{"entries":[],"limit":{"unit":"fortnight"}}]}', /limit\.unit/],
    ['{"domain":"api","hitsAddend":-1,"descriptors":[]}', /hitsAddend: expected a whole number/],
  ])("refuses %s naming the field", (body, message) => {
    expect(() => parseExplainRequest(body)).toThrow(message);
  });
});

describe("usageCall", () => {
  const table = policyTableOf(POLICY, "api.yaml");

  it("takes the entries in query order and adds the exact-valued limits below them", () => {
    const call = usageCall(new URLSearchParams("domain=api&tenant=acme&plan=free"), table);
    const base = [
      { key: "tenant", value: "acme" },
      { key: "plan", value: "free" },
    ];
    expect(call).toEqual({
      domain: "api",
      hitsAddend: 1,
      descriptors: [{ entries: base }, { entries: [...base, { key: "route", value: "bulk" }] }],
    });
  });

  it.each([
    ["tenant=acme", /domain/],
    ["domain=api", /entries/],
    ["domain=api&tenant=a&lease_acquire=r1", /lease key/],
  ])("refuses ?%s", (query, message) => {
    expect(() => usageCall(new URLSearchParams(query), table)).toThrow(message);
  });
});
