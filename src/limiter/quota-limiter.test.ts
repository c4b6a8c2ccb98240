import { describe, expect, it } from "vitest";
import { policyTableOf } from "../../test/support/policy-table.ts";
import type { FailurePolicy } from "../policy/failure-policy.ts";
import { counterKey } from "../store/counter-key.ts";
import { type CounterStore, StoreError } from "../store/counter-store.ts";
import { MemoryCounterStore } from "../store/memory-counter-store.ts";
import { ASSIGNMENT_TTL_SECONDS } from "./quota-assignment.ts";
import { createQuotaLimiter, type QuotaLimiterOptions } from "./quota-limiter.ts";
import { createRateLimiter } from "./rate-limiter.ts";

// 10 s into a minute slot.
const T = 1_700_000_010_000;
const POLICY = policyTableOf(`
domain: q
descriptors:
  - key: tenant
    rate_limit: { unit: minute, requests_per_unit: 20 }
  - key: team
    shadow_mode: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: open
  - key: plan
    quota_mode: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
`);

function memoryStore(): MemoryCounterStore {
  return new MemoryCounterStore({ clock: () => T });
}

function limiterOn(store: CounterStore, more: Partial<QuotaLimiterOptions> = {}) {
  return createQuotaLimiter({ policy: () => POLICY, store, counterKey, ...more });
}

const acme = (allowed: number) => ({ domain: "q", bucket: { name: "tenant", tenant: "acme" }, allowed });

describe("createQuotaLimiter", () => {
  it("charges reported requests to the counter RLS calls charge, and assigns from what is left", async () => {
    const store = memoryStore();
    const rls = createRateLimiter({
      policy: () => POLICY,
      store,
      headerStyle: "none",
      upstreamHeaders: false,
      counterKey,
    });
    for (let i = 0; i < 5; i++)
      await rls.shouldRateLimit({
        domain: "q",
        descriptors: [{ entries: [{ key: "tenant", value: "acme" }] }],
        hitsAddend: 1,
      });
    expect(await limiterOn(store).assess(acme(10), 1)).toMatchObject({ kind: "token_bucket", maxTokens: 5 });
    const after = await rls.shouldRateLimit({
      domain: "q",
      descriptors: [{ entries: [{ key: "tenant", value: "acme" }] }],
      hitsAddend: 1,
    });
    expect(after.statuses[0]?.limitRemaining).toBe(4);
  });

  it("adds what Envoy let through even past the limit, and then denies all", async () => {
    const limiter = limiterOn(memoryStore());
    expect(await limiter.assess(acme(25), 1)).toMatchObject({ kind: "deny_all" });
    // 0 allowed charges nothing and reads the same windows.
    expect(await limiter.assess(acme(0), 1)).toMatchObject({ kind: "deny_all" });
  });

  it("divides what is left among the streams", async () => {
    expect(await limiterOn(memoryStore()).assess(acme(2), 3)).toMatchObject({
      maxTokens: 6,
      fillIntervalSeconds: 9,
    });
  });

  it("counts each expected instance's streams as well as its own", async () => {
    const local = { store: memoryStore(), expectedInstances: 2 };
    expect(await limiterOn(memoryStore(), { local }).assess(acme(0), 1)).toMatchObject({ maxTokens: 10 });
  });

  it.each([
    ["no rule matches", { domain: "q", bucket: { user: "x" }, allowed: 3 }],
    ["the domain is unknown", { domain: "other", bucket: { tenant: "x" }, allowed: 3 }],
    ["the rule sets no limit", { domain: "q", bucket: { open: "x" }, allowed: 3 }],
    ["the rule is in shadow mode", { domain: "q", bucket: { team: "x" }, allowed: 3 }],
    ["the rule is in quota mode", { domain: "q", bucket: { plan: "x" }, allowed: 3 }],
  ])("allows all when %s", async (_, usage) => {
    expect(await limiterOn(memoryStore()).assess(usage, 1)).toEqual({
      kind: "allow_all",
      ttlSeconds: ASSIGNMENT_TTL_SECONDS,
    });
  });

  it("still counts a shadow rule's requests", async () => {
    const store = memoryStore();
    await limiterOn(store).assess({ domain: "q", bucket: { team: "x" }, allowed: 3 }, 1);
    const peeked = await store.peek([
      {
        counterKey: counterKey(POLICY.match("q", [{ key: "team", value: "x" }])?.counterId ?? ""),
        mode: "enforced",
        cost: 0,
        countRejected: true,
        windows: [{ windowMs: 60_000, limit: 1 }],
      },
    ]);
    expect(peeked.counts[0]?.[0]?.current).toBe(3);
  });

  describe("when the store fails transiently", () => {
    const failing: CounterStore = {
      charge: () => Promise.reject(new StoreError("down", { transient: true })),
      peek: () => Promise.reject(new StoreError("down", { transient: true })),
      addHits: () => undefined,
      ping: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    it.each<[FailurePolicy, unknown]>([
      ["unavailable", undefined],
      ["allow", { kind: "allow_all", ttlSeconds: ASSIGNMENT_TTL_SECONDS }],
      ["deny", { kind: "deny_all", ttlSeconds: ASSIGNMENT_TTL_SECONDS }],
      ["local", { kind: "token_bucket", maxTokens: 7, tokensPerFill: 1, fillIntervalSeconds: 6 }],
    ])("the failure policy %s assigns %o", async (failurePolicy, expected) => {
      const events: string[] = [];
      const limiter = limiterOn(failing, {
        failurePolicy,
        local: { store: memoryStore(), expectedInstances: 2 },
        onFallback: (event) => events.push(event.policy),
      });
      // local: 10 of 20 per instance, 3 charged here: 7 left for this instance's one stream.
      const assigned = await limiter.assess(acme(3), 1);
      if (expected === undefined) expect(assigned).toBeUndefined();
      else expect(assigned).toMatchObject(expected as object);
      expect(events).toEqual([failurePolicy]);
    });

    it("rejects on other errors", async () => {
      const broken = { ...failing, charge: () => Promise.reject(new Error("bug")) };
      await expect(limiterOn(broken).assess(acme(1), 1)).rejects.toThrow("bug");
    });
  });
});
