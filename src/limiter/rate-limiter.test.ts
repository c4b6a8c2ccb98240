import { describe, expect, it, vi } from "vitest";
import type { MatchedRule, PolicyTable } from "../policy/policy-types.ts";
import {
  type ChargeResult,
  type CounterStore,
  type DescriptorCharge,
  StoreError,
  type WindowCounts,
} from "../store/counter-store.ts";
import { estimate, isAdmitted, windowPasses } from "./admission.ts";
import { type Header, InvalidRequestError, type RateLimitCall } from "./limiter-types.ts";
import { createRateLimiter, type RateLimiterOptions } from "./rate-limiter.ts";

// Half-way through a minute slot: 30 s until it ends at 1_700_000_040 s.
const T = 1_700_000_010_000;

// A tiny in-memory store applying the shared admission rule at a clock the test sets.
function fakeStore(clock: { now: number }): CounterStore & { charged: DescriptorCharge[][] } {
  const slots = new Map<string, number>();
  const charged: DescriptorCharge[][] = [];
  return {
    charged,
    async charge(descriptors): Promise<ChargeResult> {
      charged.push([...descriptors]);
      const now = clock.now;
      const checks = descriptors.map((d) =>
        d.windows.map((w) => {
          const slot = Math.floor(now / w.windowMs);
          const key = (k: number) => `${d.counterKey}:${w.windowMs}:${k}`;
          const current = slots.get(key(slot)) ?? 0;
          const previous = slots.get(key(slot - 1)) ?? 0;
          const passed = windowPasses(estimate(current, previous, now, w.windowMs), d.cost, w.limit);
          return { key: key(slot), current, previous, passed };
        }),
      );
      const admitted = isAdmitted(
        descriptors.map((d, i) => ({ mode: d.mode, failed: checks[i]?.some((c) => !c.passed) ?? false })),
      );
      const counts = descriptors.map((d, i) =>
        (checks[i] ?? []).map((c): WindowCounts => {
          const current = c.current + (admitted || d.countRejected ? d.cost : 0);
          slots.set(c.key, current);
          return { current, previous: c.previous, passed: c.passed };
        }),
      );
      return { nowMs: now, admitted, counts };
    },
    async peek(descriptors) {
      const now = clock.now;
      const read = (d: DescriptorCharge, windowMs: number, k: number) =>
        slots.get(`${d.counterKey}:${windowMs}:${k}`) ?? 0;
      const counts = descriptors.map((d) =>
        d.windows.map((w) => {
          const slot = Math.floor(now / w.windowMs);
          return { current: read(d, w.windowMs, slot), previous: read(d, w.windowMs, slot - 1) };
        }),
      );
      return { nowMs: now, counts };
    },
    addHits() {},
    async ping() {},
    async close() {},
  };
}

const freePlan: MatchedRule = {
  ruleId: "plan.free",
  counterId: "api|plan=free",
  windows: [
    { unit: "minute", requestsPerUnit: 20, name: "free-per-minute", replaces: [] },
    { unit: "day", requestsPerUnit: 1000, name: "free-per-day", replaces: [] },
  ],
  unlimited: false,
  unlimitedReplaces: [],
  shadowMode: false,
  quotaMode: false,
  countRejected: true,
  detailedMetric: false,
};

// A one-domain policy: `plan=free` is limited, any other descriptor matches nothing.
const policyTable: PolicyTable = {
  domains: new Map([["api", { domain: "api", file: "api.yaml", ruleCount: 1 }]]),
  hasDomain: (domain) => domain === "api",
  match: (domain, entries) =>
    domain === "api" && entries.length === 1 && entries[0]?.key === "plan" && entries[0].value === "free"
      ? freePlan
      : undefined,
};

function setup(overrides: Partial<RateLimiterOptions> = {}) {
  const clock = { now: T };
  const store = fakeStore(clock);
  const policy = vi.fn(() => policyTable);
  const limiter = createRateLimiter({
    policy,
    store,
    headerStyle: "x-ratelimit",
    upstreamHeaders: false,
    counterKey: (id) => `fake:${id}`,
    ...overrides,
  });
  return { clock, store, policy, limiter };
}

const freeCall: RateLimitCall = {
  domain: "api",
  descriptors: [{ entries: [{ key: "plan", value: "free" }] }],
  hitsAddend: 0,
};
const headers = (list: readonly Header[]) => Object.fromEntries(list.map((h) => [h.key, h.value]));

describe("createRateLimiter", () => {
  it("Free plan, 20/min + 1000/day: 20 calls pass, the 21st is refused with Retry-After", async () => {
    const { limiter } = setup();
    for (let i = 1; i <= 20; i++) {
      const decision = await limiter.shouldRateLimit(freeCall);
      expect(decision.code).toBe("OK");
      expect(headers(decision.responseHeaders)).toEqual({
        "X-RateLimit-Limit": "20",
        "X-RateLimit-Remaining": String(20 - i),
        "X-RateLimit-Reset": "1700000040",
      });
    }

    const refused = await limiter.shouldRateLimit(freeCall);
    expect(refused.code).toBe("OVER_LIMIT");
    // The refused hit is counted (count_rejected), so c = 21: the next slot must shed enough of it,
    // 21·(1 − f'') + 1 ≤ 20 → f'' ≥ 2/21 of a minute → 30 s + 5.71 s → 36 s.
    expect(headers(refused.responseHeaders)).toEqual({
      "X-RateLimit-Limit": "20",
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": "1700000046",
      "Retry-After": "36",
      "content-type": "application/json",
    });
    expect(refused.statuses).toEqual([
      {
        code: "OVER_LIMIT",
        currentLimit: { requestsPerUnit: 20, unit: "minute", name: "free-per-minute" },
        limitRemaining: 0,
        durationUntilResetMs: 30_000,
      },
    ]);
    expect(JSON.parse(new TextDecoder().decode(refused.body))).toEqual({
      error: "rate_limited",
      limit: "free-per-minute",
      window: "minute",
      limit_value: 20,
      retry_after_seconds: 36,
    });
    expect(refused.outcomes).toEqual([
      { ruleId: "plan.free", code: "OVER_LIMIT", shadow: false, usedFraction: 21 / 20, hits: 1 },
    ]);
  });

  it("keeps its Retry-After promise: refused at 35 s, admitted at 36 s", async () => {
    for (const [seconds, code] of [
      [35, "OVER_LIMIT"],
      [36, "OK"],
    ] as const) {
      const { limiter, clock } = setup();
      for (let i = 0; i < 21; i++) await limiter.shouldRateLimit(freeCall);
      clock.now = T + seconds * 1000;
      expect((await limiter.shouldRateLimit(freeCall)).code).toBe(code);
    }
  });

  it("snapshots the policy once per call and charges the injected counter key", async () => {
    const { limiter, policy, store } = setup();
    await limiter.shouldRateLimit({ ...freeCall, hitsAddend: 3 });
    expect(policy).toHaveBeenCalledTimes(1);
    expect(store.charged).toEqual([
      [
        {
          counterKey: "fake:api|plan=free",
          mode: "enforced",
          cost: 3,
          countRejected: true,
          windows: [
            { windowMs: 60_000, limit: 20 },
            { windowMs: 86_400_000, limit: 1000 },
          ],
        },
      ],
    ]);
  });

  it("answers an unknown domain OK per descriptor without asking the store", async () => {
    const { limiter, store } = setup();
    const decision = await limiter.shouldRateLimit({
      ...freeCall,
      domain: "elsewhere",
      descriptors: [...freeCall.descriptors, ...freeCall.descriptors],
    });
    expect(decision).toEqual({
      code: "OK",
      statuses: [
        { code: "OK", limitRemaining: 0 },
        { code: "OK", limitRemaining: 0 },
      ],
      responseHeaders: [],
      requestHeaders: [],
      outcomes: [],
    });
    expect(store.charged).toEqual([]);
  });

  it("rejects an invalid call before reading the policy", async () => {
    const { limiter, policy } = setup();
    await expect(limiter.shouldRateLimit({ ...freeCall, domain: "" })).rejects.toThrow(InvalidRequestError);
    expect(policy).not.toHaveBeenCalled();
  });

  it("lets a store failure through for the edge to map", async () => {
    const failure = new StoreError("redis down", { transient: true });
    const store: CounterStore = {
      charge: () => Promise.reject(failure),
      peek: () => Promise.reject(failure),
      addHits: () => {},
      ping: async () => {},
      close: async () => {},
    };
    const { limiter } = setup({ store });
    await expect(limiter.shouldRateLimit(freeCall)).rejects.toBe(failure);
  });

  describe("when the store fails", () => {
    const transient = new StoreError("redis down", { transient: true });
    const failing = (error: unknown): CounterStore & { deadlines: (number | undefined)[] } => {
      const deadlines: (number | undefined)[] = [];
      return {
        deadlines,
        charge: (_descriptors, options) => {
          deadlines.push(options?.deadlineMs);
          return Promise.reject(error);
        },
        peek: () => Promise.reject(error),
        addHits: () => {},
        ping: async () => {},
        close: async () => {},
      };
    };
    const withDomainPolicy = (failurePolicy: "allow" | "deny" | undefined): PolicyTable => ({
      ...policyTable,
      domains: new Map([["api", { domain: "api", file: "api.yaml", ruleCount: 1, failurePolicy }]]),
    });

    it("answers per the service's failure policy and reports the fallback", async () => {
      const events: unknown[] = [];
      const { limiter } = setup({
        store: failing(transient),
        failurePolicy: "deny",
        onFallback: (event) => events.push(event),
      });
      expect((await limiter.shouldRateLimit(freeCall)).code).toBe("OVER_LIMIT");
      expect(events).toEqual([{ domain: "api", policy: "deny", error: transient }]);
    });

    it("lets the domain's failure_policy win over the service's", async () => {
      const { limiter } = setup({
        store: failing(transient),
        failurePolicy: "deny",
        policy: () => withDomainPolicy("allow"),
      });
      const decision = await limiter.shouldRateLimit(freeCall);
      expect(decision.code).toBe("OK");
      expect(decision.responseHeaders).toEqual([]);
    });

    it("answers unavailable (rethrows) by default", async () => {
      const { limiter } = setup({ store: failing(transient) });
      await expect(limiter.shouldRateLimit(freeCall)).rejects.toBe(transient);
    });

    it("lets a permanent store error through whatever the policy: it is a bug, not an outage", async () => {
      const permanent = new StoreError("redis: WRONGTYPE", { transient: false });
      const { limiter } = setup({ store: failing(permanent), failurePolicy: "allow" });
      await expect(limiter.shouldRateLimit(freeCall)).rejects.toBe(permanent);
    });

    it("passes the call's deadline to the store", async () => {
      const store = failing(transient);
      const { limiter } = setup({ store, failurePolicy: "allow" });
      await limiter.shouldRateLimit(freeCall, { deadlineMs: 1234 });
      expect(store.deadlines).toEqual([1234]);
    });
  });
});
