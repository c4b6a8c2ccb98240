import { describe, expect, it } from "vitest";
import { buildPolicyTable } from "./build-policy-table.ts";

const POLICY = `
domain: lenient
descriptors:
  - key: tenant
    rate_limit: { unit: hour, requests_per_unit: 10 }
  - key: blocked
    shadow_mode: true
    rate_limit: { unit: minute, requests_per_unit: 0 }
  - key: "route"
    value: "api/*"
    quota_mode: true
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: message_type
    value: marketing
    descriptors:
      - key: to_number
        rate_limits: [{ unit: minute, requests_per_unit: 5 }, { unit: day, requests_per_unit: 50 }]
  - key: free
    rate_limit: { unlimited: true }
  - key: whitelisted
  - key: pool
    concurrency: { max: 3 }
`;

describe("PolicyTable.dump (dump-policy.ts): the reference's /rlconfig text", () => {
  it("lists each rule as envoyproxy/ratelimit's Dump does, in file order, then Sluice's concurrency caps", () => {
    const built = buildPolicyTable([
      { file: "a.yaml", text: POLICY },
      {
        file: "b.yaml",
        text: "domain: other\ndescriptors:\n  - { key: k, value: v, rate_limit: { unit: second, requests_per_unit: 1 } }\n",
      },
    ]);
    if (!built.ok) throw new Error(JSON.stringify(built.errors));
    expect(built.table.dump?.().split("\n")).toEqual([
      "lenient.tenant: unit=HOUR requests_per_unit=10, shadow_mode: false, quota_mode: false",
      "lenient.blocked: unit=MINUTE requests_per_unit=0, shadow_mode: true, quota_mode: false",
      "lenient.route_api/*: unit=MINUTE requests_per_unit=2, shadow_mode: false, quota_mode: true",
      "lenient.message_type_marketing.to_number: unit=MINUTE requests_per_unit=5, shadow_mode: false, quota_mode: false",
      "lenient.message_type_marketing.to_number: unit=DAY requests_per_unit=50, shadow_mode: false, quota_mode: false",
      "lenient.free: unit=UNKNOWN requests_per_unit=0, shadow_mode: false, quota_mode: false",
      "lenient.pool: concurrency max=3 queue_timeout_ms=0 lease_ttl_ms=60000",
      "other.k_v: unit=SECOND requests_per_unit=1, shadow_mode: false, quota_mode: false",
      "",
    ]);
  });
});
