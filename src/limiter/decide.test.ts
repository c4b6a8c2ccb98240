import { describe, expect, it } from "vitest";
import type { Unit } from "../policy/units.ts";
import { unitMillis } from "../policy/units.ts";
import type { ChargeResult, DescriptorCharge, WindowCounts } from "../store/counter-store.ts";
import { type DecideOptions, decide, UNLIMITED_REMAINING } from "./decide.ts";
import type { Decision, Header } from "./limiter-types.ts";
import {
  admissionMode,
  type ChargedDescriptor,
  type ChargePlan,
  type PlannedDescriptor,
  type RuleMode,
} from "./plan-charges.ts";

// t: half-way through a minute slot (30 s to go), 810 s into an hour slot, 6_390 s before the day ends.
const T = 1_700_000_010_000;

type W = [unit: Unit, limit: number, counts: WindowCounts, name?: string];

interface ScenarioDescriptor {
  readonly ruleId: string;
  readonly mode?: RuleMode;
  readonly cost?: number;
  readonly windows: W[];
}

// A plan and the store's answer built together, so each test states only counters and verdicts.
function scenario(
  descriptors: (PlannedDescriptor | ScenarioDescriptor)[],
  admitted: boolean,
): { plan: ChargePlan; result: ChargeResult } {
  const planned: PlannedDescriptor[] = [];
  const charges: DescriptorCharge[] = [];
  const counts: WindowCounts[][] = [];
  for (const d of descriptors) {
    if ("kind" in d) {
      planned.push(d);
      continue;
    }
    const charged: ChargedDescriptor = {
      kind: "charged",
      ruleId: d.ruleId,
      mode: d.mode ?? "enforced",
      cost: d.cost ?? 1,
      chargeIndex: counts.length,
      windows: d.windows.map(([unit, limit, , name]) => ({
        unit,
        requestsPerUnit: limit,
        name,
        windowMs: unitMillis(unit),
      })),
    };
    planned.push(charged);
    charges.push({
      counterKey: d.ruleId,
      mode: admissionMode(charged.mode),
      cost: charged.cost,
      countRejected: true,
      windows: charged.windows.map((w) => ({ windowMs: w.windowMs, limit: w.requestsPerUnit })),
    });
    counts.push(d.windows.map(([, , c]) => c));
  }
  return { plan: { descriptors: planned, charges }, result: { nowMs: T, admitted, counts } };
}

const ok = (current: number, previous = 0): WindowCounts => ({ current, previous, passed: true });
const over = (current: number, previous = 0): WindowCounts => ({ current, previous, passed: false });
const options: DecideOptions = { headerStyle: "x-ratelimit", upstreamHeaders: false };
const headers = (list: readonly Header[]) => Object.fromEntries(list.map((h) => [h.key, h.value]));

function run(s: { plan: ChargePlan; result: ChargeResult }, opts = options): Decision {
  return decide(s.plan, s.result, opts);
}

describe("decide", () => {
  it("on OK reports each descriptor's and the request's least-remaining window", () => {
    const d = run(
      scenario(
        [
          {
            ruleId: "free",
            windows: [
              ["minute", 20, ok(12), "free-minute"],
              ["day", 1000, ok(40)],
            ],
          },
          { ruleId: "route", windows: [["hour", 100, ok(95)]] },
        ],
        true,
      ),
    );
    expect(d.code).toBe("OK");
    expect(d.statuses).toEqual([
      {
        code: "OK",
        currentLimit: { requestsPerUnit: 20, unit: "minute", name: "free-minute" },
        limitRemaining: 8,
        durationUntilResetMs: 30_000,
      },
      {
        code: "OK",
        currentLimit: { requestsPerUnit: 100, unit: "hour", name: undefined },
        limitRemaining: 5,
        durationUntilResetMs: 2_790_000,
      },
    ]);
    expect(headers(d.responseHeaders)).toEqual({
      "X-RateLimit-Limit": "100",
      "X-RateLimit-Remaining": "5",
      "X-RateLimit-Reset": "1700002800",
    });
    expect(d.body).toBeUndefined();
    expect(d.requestHeaders).toEqual([]);
  });

  it("on OVER_LIMIT reports the failing window, Retry-After and the JSON body", () => {
    // Minute: c = 21 after counting the refused hit; 21·(1 − f'') + 1 ≤ 20 in the next slot
    // → f'' ≥ 2/21: 30 s + 5.71 s → 36 s.
    const d = run(
      scenario(
        [
          {
            ruleId: "free",
            windows: [
              ["minute", 20, over(21), "free-minute"],
              ["day", 1000, ok(41)],
            ],
          },
        ],
        false,
      ),
    );
    expect(d.code).toBe("OVER_LIMIT");
    expect(d.statuses[0]).toEqual({
      code: "OVER_LIMIT",
      currentLimit: { requestsPerUnit: 20, unit: "minute", name: "free-minute" },
      limitRemaining: 0,
      durationUntilResetMs: 30_000,
    });
    expect(headers(d.responseHeaders)).toEqual({
      "X-RateLimit-Limit": "20",
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": String(1_700_000_010 + 36),
      "Retry-After": "36",
      "content-type": "application/json",
    });
    expect(JSON.parse(new TextDecoder().decode(d.body))).toEqual({
      error: "rate_limited",
      limit: "free-minute",
      window: "minute",
      limit_value: 20,
      retry_after_seconds: 36,
    });
  });

  it("binds to the failing window with the latest retry, across descriptors", () => {
    // Hour: c = 101 → next slot, 101·(1 − f'') + 1 ≤ 100 → 2790 s + 71.3 s → 2862 s.
    const d = run(
      scenario(
        [
          { ruleId: "free", windows: [["minute", 20, over(21)]] },
          { ruleId: "route", windows: [["hour", 100, over(101)]] },
        ],
        false,
      ),
    );
    expect(headers(d.responseHeaders)).toMatchObject({ "X-RateLimit-Limit": "100", "Retry-After": "2862" });
    expect(d.statuses.map((s) => s.code)).toEqual(["OVER_LIMIT", "OVER_LIMIT"]);
  });

  it("sends no Retry-After when the request's cost exceeds the limit", () => {
    const d = run(scenario([{ ruleId: "bulk", cost: 50, windows: [["minute", 20, over(0)]] }], false));
    const h = headers(d.responseHeaders);
    expect(h["Retry-After"]).toBeUndefined();
    expect(h["X-RateLimit-Reset"]).toBe("1700000040");
  });

  describe("shadow rules", () => {
    it("report OK with the failing window's figures, are counted, and stay out of headers", () => {
      const d = run(
        scenario(
          [
            { ruleId: "trial", mode: "shadow", windows: [["minute", 5, over(9)]] },
            { ruleId: "free", windows: [["minute", 20, ok(12)]] },
          ],
          true,
        ),
      );
      expect(d.code).toBe("OK");
      expect(d.statuses[0]).toEqual({
        code: "OK",
        currentLimit: { requestsPerUnit: 5, unit: "minute", name: undefined },
        limitRemaining: 0,
        durationUntilResetMs: 30_000,
      });
      expect(headers(d.responseHeaders)["X-RateLimit-Limit"]).toBe("20");
      expect(d.outcomes).toEqual([
        { ruleId: "trial", code: "OVER_LIMIT", shadow: true, usedFraction: 9 / 5, hits: 1 },
        { ruleId: "free", code: "OK", shadow: false, usedFraction: 12 / 20, hits: 1 },
      ]);
    });

    it("alone produce no headers", () => {
      const d = run(scenario([{ ruleId: "trial", mode: "shadow", windows: [["minute", 5, over(9)]] }], true));
      expect(d.responseHeaders).toEqual([]);
    });
  });

  describe("quota mode: a quota descriptor never refuses (as in envoyproxy/ratelimit)", () => {
    it("reports one over its limit OK, with its limit, nothing left and no duration until reset", () => {
      const d = run(
        scenario([{ ruleId: "q", mode: "quota", windows: [["minute", 20, over(21), "q-minute"]] }], true),
      );
      expect(d.code).toBe("OK");
      expect(d.statuses).toEqual([
        {
          code: "OK",
          currentLimit: { requestsPerUnit: 20, unit: "minute", name: "q-minute" },
          limitRemaining: 0,
        },
      ]);
      expect(d.body).toBeUndefined();
    });

    it("reports nothing left when over even where a refusal left its counter below the limit", () => {
      // count_rejected: false on a refused call: E stays 15 of 20, yet the cost of 10 did not fit.
      const d = run(
        scenario(
          [
            { ruleId: "q", mode: "quota", cost: 10, windows: [["minute", 20, over(15)]] },
            { ruleId: "hard", windows: [["minute", 20, over(21)]] },
          ],
          false,
        ),
      );
      expect(d.statuses[0]).toMatchObject({ code: "OK", limitRemaining: 0 });
    });

    it("reports one within its limit as any other descriptor", () => {
      const d = run(scenario([{ ruleId: "q", mode: "quota", windows: [["minute", 20, ok(12)]] }], true));
      expect(d.statuses).toEqual([
        {
          code: "OK",
          currentLimit: { requestsPerUnit: 20, unit: "minute", name: undefined },
          limitRemaining: 8,
          durationUntilResetMs: 30_000,
        },
      ]);
    });

    it("keeps quota windows out of the headers: they hold no one back", () => {
      const alone = run(
        scenario([{ ruleId: "q", mode: "quota", windows: [["minute", 20, over(21)]] }], true),
      );
      expect(alone.responseHeaders).toEqual([]);
      const mixed = run(
        scenario(
          [
            { ruleId: "q", mode: "quota", windows: [["minute", 20, over(21)]] },
            { ruleId: "free", windows: [["hour", 100, ok(95)]] },
          ],
          true,
        ),
      );
      expect(headers(mixed.responseHeaders)).toEqual({
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "5",
        "X-RateLimit-Reset": "1700002800",
      });
    });

    it("leaves quota windows out of a refusal's Retry-After: only enforced windows block", () => {
      const d = run(
        scenario(
          [
            { ruleId: "q", mode: "quota", windows: [["hour", 100, over(101)]] },
            { ruleId: "hard", windows: [["minute", 20, over(21)]] },
          ],
          false,
        ),
      );
      expect(d.code).toBe("OVER_LIMIT");
      expect(d.statuses.map((s) => s.code)).toEqual(["OK", "OVER_LIMIT"]);
      expect(headers(d.responseHeaders)).toMatchObject({ "X-RateLimit-Limit": "20", "Retry-After": "36" });
    });

    it("counts an over quota rule's pressure in its outcome, not as shadow", () => {
      const d = run(scenario([{ ruleId: "q", mode: "quota", windows: [["minute", 20, over(21)]] }], true));
      expect(d.outcomes).toEqual([
        { ruleId: "q", code: "OVER_LIMIT", shadow: false, usedFraction: 21 / 20, hits: 1 },
      ]);
    });
  });

  it("answers descriptors that are not charged with OK and no current limit", () => {
    const d = run(
      scenario(
        [
          { kind: "uncharged", reason: "unmatched" },
          { kind: "uncharged", reason: "unlimited" },
          { kind: "uncharged", reason: "whitelisted" },
          { kind: "uncharged", reason: "replaced" },
          { ruleId: "free", windows: [["minute", 20, ok(1)]] },
        ],
        true,
      ),
    );
    expect(d.statuses.slice(0, 4)).toEqual([
      { code: "OK", limitRemaining: 0 },
      { code: "OK", limitRemaining: UNLIMITED_REMAINING },
      { code: "OK", limitRemaining: 0 },
      { code: "OK", limitRemaining: 0 },
    ]);
    expect(d.outcomes.map((o) => o.ruleId)).toEqual(["free"]);
  });

  it("answers OK without headers when the store was not asked", () => {
    const plan: ChargePlan = { descriptors: [{ kind: "uncharged", reason: "unmatched" }], charges: [] };
    expect(decide(plan, undefined, options)).toEqual({
      code: "OK",
      statuses: [{ code: "OK", limitRemaining: 0 }],
      responseHeaders: [],
      requestHeaders: [],
      outcomes: [],
    });
  });

  it("passes the figures upstream on OK when configured", () => {
    const d = run(scenario([{ ruleId: "free", windows: [["minute", 20, ok(12)]] }], true), {
      headerStyle: "draft",
      upstreamHeaders: true,
    });
    expect(headers(d.requestHeaders)).toEqual({
      "RateLimit-Policy": "20;w=60",
      RateLimit: "limit=20, remaining=8, reset=30",
    });
  });

  it("sends the JSON body on OVER_LIMIT even with no rate-limit headers", () => {
    const d = run(scenario([{ ruleId: "free", windows: [["minute", 20, over(21)]] }], false), {
      headerStyle: "none",
      upstreamHeaders: true,
    });
    expect(d.responseHeaders).toEqual([{ key: "content-type", value: "application/json" }]);
    expect(d.body).toBeDefined();
    expect(d.requestHeaders).toEqual([]);
  });

  it("refuses to guess when the store's counts do not mirror the charges", () => {
    const s = scenario([{ ruleId: "free", windows: [["minute", 20, ok(1)]] }], true);
    expect(() => decide(s.plan, { ...s.result, counts: [] }, options)).toThrow(/counter store answered/);
  });
});
