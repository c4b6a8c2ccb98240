import { describe, expect, it } from "vitest";
import { UNLIMITED_REMAINING } from "./decide.ts";
import { fallbackDecision } from "./fallback-decision.ts";
import { admissionMode, type ChargePlan, type PlannedDescriptor, type RuleMode } from "./plan-charges.ts";

function plan(modes: (RuleMode | "unmatched" | "unlimited")[]): ChargePlan {
  const descriptors: PlannedDescriptor[] = [];
  const charges: ChargePlan["charges"][number][] = [];
  for (const mode of modes) {
    if (mode === "unmatched" || mode === "unlimited") {
      descriptors.push({ kind: "uncharged", reason: mode });
      continue;
    }
    descriptors.push({
      kind: "charged",
      ruleId: `rule-${mode}`,
      mode,
      cost: 1,
      chargeIndex: charges.length,
      windows: [{ unit: "minute", requestsPerUnit: 20, name: "per-minute", windowMs: 60_000 }],
    });
    charges.push({
      counterKey: "k",
      mode: admissionMode(mode),
      cost: 1,
      countRejected: true,
      windows: [{ windowMs: 60_000, limit: 20 }],
    });
  }
  return { descriptors, charges };
}

describe("fallbackDecision", () => {
  it("allow: OK for every descriptor, no headers, no body, no rule outcomes", () => {
    const decision = fallbackDecision(plan(["enforced", "quota", "unlimited"]), "allow");
    expect(decision).toEqual({
      code: "OK",
      statuses: [
        { code: "OK", limitRemaining: 0 },
        { code: "OK", limitRemaining: 0 },
        { code: "OK", limitRemaining: UNLIMITED_REMAINING },
      ],
      responseHeaders: [],
      requestHeaders: [],
      outcomes: [],
    });
  });

  it("deny: OVER_LIMIT naming the limit of each charged descriptor, still without headers", () => {
    const decision = fallbackDecision(plan(["enforced", "unmatched"]), "deny");
    expect(decision).toEqual({
      code: "OVER_LIMIT",
      statuses: [
        {
          code: "OVER_LIMIT",
          currentLimit: { requestsPerUnit: 20, unit: "minute", name: "per-minute" },
          limitRemaining: 0,
        },
        { code: "OK", limitRemaining: 0 },
      ],
      responseHeaders: [],
      requestHeaders: [],
      outcomes: [],
    });
    expect(decision.body).toBeUndefined();
  });

  it.each<[string, (RuleMode | "unmatched")[], "OK" | "OVER_LIMIT"]>([
    ["shadow descriptors never refuse", ["shadow"], "OK"],
    ["quota descriptors never refuse", ["quota", "quota"], "OK"],
    ["an enforced descriptor refuses next to a quota one", ["quota", "enforced"], "OVER_LIMIT"],
    ["an enforced descriptor refuses next to a shadow one", ["shadow", "enforced"], "OVER_LIMIT"],
  ])("deny keeps the admission rule: %s", (_name, modes, code) => {
    expect(fallbackDecision(plan(modes), "deny").code).toBe(code);
  });

  it("deny reports a shadow descriptor OK", () => {
    expect(fallbackDecision(plan(["shadow"]), "deny").statuses).toEqual([{ code: "OK", limitRemaining: 0 }]);
  });

  it("deny reports a quota descriptor as one over its limit: OK, its limit, nothing left", () => {
    expect(fallbackDecision(plan(["quota"]), "deny").statuses).toEqual([
      {
        code: "OK",
        currentLimit: { requestsPerUnit: 20, unit: "minute", name: "per-minute" },
        limitRemaining: 0,
      },
    ]);
  });
});
