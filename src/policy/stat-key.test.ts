import { describe, expect, it } from "vitest";
import { buildPolicyTable } from "./build-policy-table.ts";
import type { PolicyTable } from "./policy-types.ts";
import { sanitizeStatName } from "./stat-key.ts";

// Rules from envoyproxy/ratelimit's README stats example, plus the flags that put request values in.
const POLICY = `
domain: mongo_cps
descriptors:
  - key: database
    value: users
    rate_limit: { unit: second, requests_per_unit: 500 }
  - key: message_type
    value: marketing
    descriptors:
      - key: to_number
        rate_limit: { unit: day, requests_per_unit: 5 }
  - key: route
    value: "api/*"
    rate_limit: { unit: minute, requests_per_unit: 5 }
  - key: files
    value: "f*"
    share_threshold: true
    detailed_metric: true
    rate_limit: { unit: minute, requests_per_unit: 5 }
  - key: remote_address
    detailed_metric: true
    rate_limit: { unit: minute, requests_per_unit: 5 }
  - key: user
    value_to_metric: true
    descriptors:
      - key: action
        value: "read*"
        value_to_metric: true
        descriptors:
          - key: resource
            rate_limit: { unit: minute, requests_per_unit: 5 }
  - key: named
    rate_limit: { name: a_name, unit: minute, requests_per_unit: 5 }
`;

function table(): PolicyTable {
  const built = buildPolicyTable([{ file: "p.yaml", text: POLICY }]);
  if (!built.ok) throw new Error(JSON.stringify(built.errors));
  return built.table;
}

describe("a matched rule's stat key: envoyproxy/ratelimit's stat name, domain first", () => {
  const t = table();
  it.each<[string, [string, string][], string[]]>([
    ["key_value for an exact node", [["database", "users"]], ["database_users"]],
    [
      "the bare key at a bare node",
      [
        ["message_type", "marketing"],
        ["to_number", "555"],
      ],
      ["message_type_marketing", "to_number"],
    ],
    ["the pattern, not the value, at a wildcard", [["route", "api/v1"]], ["route_api/*"]],
    ["the rule's key path even when the limit has a name", [["named", "x"]], ["named"]],
    ["request values with detailed_metric", [["remote_address", "10.0.0.1"]], ["remote_address_10_0_0_1"]],
    ["the pattern at a share_threshold level, even with detailed_metric", [["files", "foo"]], ["files_f*"]],
    [
      "request values at value_to_metric levels only",
      [
        ["user", "alice"],
        ["action", "readfile"],
        ["resource", "r1"],
      ],
      ["user_alice", "action_readfile", "resource"],
    ],
  ])("%s", (_name, pairs, statKey) => {
    const rule = t.match(
      "mongo_cps",
      pairs.map(([key, value]) => ({ key, value })),
    );
    expect(rule?.statKey).toEqual(["mongo_cps", ...statKey]);
  });

  it("is the same array for every call of a rule without request values (nothing built per call)", () => {
    const first = t.match("mongo_cps", [{ key: "database", value: "users" }]);
    const second = t.match("mongo_cps", [{ key: "database", value: "users" }]);
    expect(first?.statKey).toBe(second?.statKey);
  });
});

describe("sanitizeStatName (the reference's utils.SanitizeStatName)", () => {
  it.each([
    ["a:b|c", "a_b_c"],
    ["ip_192.168.0.10", "ip_192_168_0_10"],
    ["v1.2.3", "v1.2.3"],
    ["plain", "plain"],
  ])("%s → %s", (input, output) => {
    expect(sanitizeStatName(input)).toBe(output);
  });
});
