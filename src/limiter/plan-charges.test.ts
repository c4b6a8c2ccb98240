import { describe, expect, it } from "vitest";
import type { DescriptorEntry, LimitWindow, MatchedRule, PolicyTable } from "../policy/policy-types.ts";
import { isAdmitted } from "./admission.ts";
import type { CallDescriptor, RateLimitCall } from "./limiter-types.ts";
import {
  type ChargePlan,
  descriptorCost,
  OVERRIDE_RULE_ID,
  overrideCounterId,
  planCharges,
} from "./plan-charges.ts";

// A policy fake matching on the exact entry list, e.g. "plan=free" or "plan=free,route=leads".
function table(rules: Record<string, Partial<MatchedRule>>): PolicyTable {
  const key = (entries: readonly DescriptorEntry[]) => entries.map((e) => `${e.key}=${e.value}`).join(",");
  return {
    domains: new Map([["api", { domain: "api", file: "api.yaml", ruleCount: Object.keys(rules).length }]]),
    hasDomain: (domain) => domain === "api",
    match(domain, entries) {
      const rule = domain === "api" ? rules[key(entries)] : undefined;
      if (rule === undefined) return undefined;
      return {
        ruleId: key(entries),
        counterId: `api/${key(entries)}`,
        windows: [],
        unlimited: false,
        unlimitedReplaces: [],
        shadowMode: false,
        quotaMode: false,
        countRejected: true,
        detailedMetric: false,
        ...rule,
      };
    },
  };
}

const perMinute = (requestsPerUnit: number, name?: string, replaces: string[] = []): LimitWindow => ({
  unit: "minute",
  requestsPerUnit,
  name,
  replaces,
});
const perDay = (requestsPerUnit: number, name?: string): LimitWindow => ({
  unit: "day",
  requestsPerUnit,
  name,
  replaces: [],
});
const d = (pair: string, extra: Partial<CallDescriptor> = {}): CallDescriptor => ({
  entries: pair.split(",").map((kv) => {
    const [key = "", value = ""] = kv.split("=");
    return { key, value };
  }),
  ...extra,
});
const call = (descriptors: CallDescriptor[], hitsAddend = 0, domain = "api"): RateLimitCall => ({
  domain,
  descriptors,
  hitsAddend,
});
const key = (id: string) => `key(${id})`;

describe("planCharges", () => {
  const policy = table({
    "plan=free": { windows: [perMinute(20), perDay(1000)] },
    "plan=gold": { windows: [], unlimited: true },
    "plan=internal": { windows: [] },
    "plan=trial": { windows: [perMinute(5)], shadowMode: true, quotaMode: true },
    "plan=burst": { windows: [perMinute(100)], quotaMode: true, countRejected: false },
  });

  it("charges a matched rule with every window, keyed by counterKey(counterId)", () => {
    const plan = planCharges(call([d("plan=free")]), policy, key);
    expect(plan.charges).toEqual([
      {
        counterKey: "key(api/plan=free)",
        mode: "enforced",
        cost: 1,
        countRejected: true,
        windows: [
          { windowMs: 60_000, limit: 20 },
          { windowMs: 86_400_000, limit: 1000 },
        ],
      },
    ]);
    expect(plan.descriptors).toEqual([
      {
        kind: "charged",
        ruleId: "plan=free",
        mode: "enforced",
        cost: 1,
        chargeIndex: 0,
        windows: [
          { unit: "minute", requestsPerUnit: 20, name: undefined, windowMs: 60_000 },
          { unit: "day", requestsPerUnit: 1000, name: undefined, windowMs: 86_400_000 },
        ],
      },
    ]);
  });

  it("does not charge unmatched, unlimited or whitelisted descriptors, and maps charges back", () => {
    const plan = planCharges(
      call([d("plan=none"), d("plan=gold"), d("plan=internal"), d("plan=free"), d("plan=burst")]),
      policy,
      key,
    );
    expect(plan.descriptors.map((p) => (p.kind === "charged" ? p.chargeIndex : p.reason))).toEqual([
      "unmatched",
      "unlimited",
      "whitelisted",
      0,
      1,
    ]);
    expect(plan.charges.map((c) => c.counterKey)).toEqual(["key(api/plan=free)", "key(api/plan=burst)"]);
    expect(plan.charges[1]).toMatchObject({ countRejected: false });
  });

  it("treats a shadow rule as shadow even in quota mode", () => {
    expect(planCharges(call([d("plan=trial")]), policy, key).charges[0]?.mode).toBe("shadow");
  });

  describe("a quota rule never refuses (as in envoyproxy/ratelimit)", () => {
    const verdict = (plan: ChargePlan, failing: boolean[]) =>
      isAdmitted(plan.charges.map((c, i) => ({ mode: c.mode, failed: failing[i] ?? false })));

    it("is charged as shadow, so the store admits the request however far over it is", () => {
      const plan = planCharges(call([d("plan=burst")]), policy, key);
      expect(plan.charges.map((c) => [c.mode, c.cost, c.countRejected])).toEqual([["shadow", 1, false]]);
      expect(verdict(plan, [true])).toBe(true);
    });

    it("reports as quota, and a shadow+quota rule as shadow", () => {
      const plan = planCharges(call([d("plan=burst"), d("plan=trial")]), policy, key);
      expect(plan.descriptors.map((p) => (p.kind === "charged" ? p.mode : p.reason))).toEqual([
        "quota",
        "shadow",
      ]);
    });

    it("leaves enforced descriptors enforced", () => {
      const plan = planCharges(call([d("plan=free"), d("plan=burst")]), policy, key);
      expect(plan.charges.map((c) => c.mode)).toEqual(["enforced", "shadow"]);
      expect(verdict(plan, [true, false])).toBe(false);
      expect(verdict(plan, [false, true])).toBe(true);
    });
  });

  describe("overrides", () => {
    const override = { limitOverride: { requestsPerUnit: 7, unit: "hour" as const } };

    it("replace the policy's limit, with a counter over the domain and all entries", () => {
      const plan = planCharges(call([d("plan=free,route=leads", override)]), policy, key);
      expect(plan.charges).toEqual([
        {
          counterKey: key(
            overrideCounterId("api", [
              { key: "plan", value: "free" },
              { key: "route", value: "leads" },
            ]),
          ),
          mode: "enforced",
          cost: 1,
          countRejected: true,
          windows: [{ windowMs: 3_600_000, limit: 7 }],
        },
      ]);
      expect(plan.descriptors[0]).toMatchObject({ ruleId: OVERRIDE_RULE_ID });
    });

    it("are never shadow, and keep the matched rule's id for metrics", () => {
      const plan = planCharges(call([d("plan=trial", override), d("plan=gold", override)]), policy, key);
      expect(plan.charges.map((c) => c.mode)).toEqual(["enforced", "enforced"]);
      expect(plan.descriptors.map((p) => (p.kind === "charged" ? p.ruleId : p.reason))).toEqual([
        "plan=trial",
        "plan=gold",
      ]);
    });

    it("key counters unambiguously whatever the entries hold", () => {
      const a = overrideCounterId("api", [{ key: "a", value: "b,c=d" }]);
      const b = overrideCounterId("api", [
        { key: "a", value: "b" },
        { key: "c", value: "d" },
      ]);
      expect(a).not.toBe(b);
    });
  });

  describe("replaces", () => {
    const replacing = table({
      "tier=base": { windows: [perMinute(10, "base"), perDay(500, "base-daily")] },
      "tier=boost": { windows: [perMinute(50, "boost", ["base"])] },
      "tier=solo": { windows: [perMinute(10, "solo", ["solo"])] },
    });

    it("drops a named window another matched window replaces, keeping its siblings", () => {
      const plan = planCharges(call([d("tier=base"), d("tier=boost")]), replacing, key);
      expect(plan.charges.map((c) => c.windows)).toEqual([
        [{ windowMs: 86_400_000, limit: 500 }],
        [{ windowMs: 60_000, limit: 50 }],
      ]);
    });

    it("leaves the window alone when the replacing rule is not in the request", () => {
      const plan = planCharges(call([d("tier=base")]), replacing, key);
      expect(plan.charges[0]?.windows).toHaveLength(2);
    });

    it("does not let a window replace itself", () => {
      expect(planCharges(call([d("tier=solo")]), replacing, key).charges).toHaveLength(1);
    });

    it("lets an unlimited rule replace a named window, though it charges nothing itself", () => {
      const vip = table({
        "tier=base": { windows: [perMinute(10, "base"), perDay(500, "base-daily")] },
        "tier=vip": { windows: [], unlimited: true, unlimitedReplaces: ["base"] },
      });
      const plan = planCharges(call([d("tier=base"), d("tier=vip")]), vip, key);
      expect(plan.charges.map((c) => c.windows)).toEqual([[{ windowMs: 86_400_000, limit: 500 }]]);
      expect(plan.descriptors[1]).toEqual({ kind: "uncharged", reason: "unlimited" });
      expect(planCharges(call([d("tier=base")]), vip, key).charges[0]?.windows).toHaveLength(2);
    });

    it("reports a descriptor whose every window is replaced as not charged", () => {
      const all = table({
        "x=1": { windows: [perMinute(1, "one")] },
        "x=2": { windows: [perMinute(2, "two", ["one"])] },
      });
      const plan = planCharges(call([d("x=1"), d("x=2")]), all, key);
      expect(plan.descriptors[0]).toEqual({ kind: "uncharged", reason: "replaced" });
      expect(plan.descriptors[1]).toMatchObject({ kind: "charged", chargeIndex: 0 });
    });
  });

  describe("cost", () => {
    const cases: [string, number, number | undefined, number][] = [
      ["request 0 means 1", 0, undefined, 1],
      ["request cost applies to every descriptor", 5, undefined, 5],
      ["descriptor cost wins over the request's", 5, 2, 2],
      ["descriptor 0 checks without consuming", 5, 0, 0],
    ];
    it.each(cases)("%s", (_name, requestHits, descriptorHits, expected) => {
      const descriptor = d("plan=free", { hitsAddend: descriptorHits });
      expect(descriptorCost(call([descriptor], requestHits), descriptor)).toBe(expected);
      expect(planCharges(call([descriptor], requestHits), policy, key).charges[0]?.cost).toBe(expected);
    });
  });
});
