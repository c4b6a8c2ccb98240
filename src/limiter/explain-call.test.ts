import { afterEach, describe, expect, it } from "vitest";
import { policyTableOf } from "../../test/support/policy-table.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import { counterKey } from "../store/counter-key.ts";
import { MemoryCounterStore } from "../store/memory-counter-store.ts";
import { createExplainer, type ExplainerOptions } from "./explain-call.ts";
import type { CallDescriptor, RateLimitCall } from "./limiter-types.ts";
import { createRateLimiter } from "./rate-limiter.ts";

const POLICY = `
domain: api
descriptors:
  - key: tenant
    descriptors:
      - key: plan
        value: pro
        rate_limits:
          - { name: pro_per_minute, unit: minute, requests_per_unit: 3 }
          - { name: pro_per_day, unit: day, requests_per_unit: 100 }
        concurrency: { name: pro_in_flight, max: 20 }
  - key: route
    value: health
  - key: route
    value: watched
    shadow_mode: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: vip
    rate_limit:
      unlimited: true
      replaces: [{ name: pro_per_minute }]
`;

const T0 = 1_700_006_400_000 + 15_000;
const decideOptions = { headerStyle: "x-ratelimit", upstreamHeaders: false } as const;

const policy = (): PolicyTable => policyTableOf(POLICY, "api.yaml");

const d = (text: string, extra: Partial<CallDescriptor> = {}): CallDescriptor => ({
  entries: text.split(",").map((pair) => {
    const [key = "", value = ""] = pair.split("=");
    return { key, value };
  }),
  ...extra,
});
const call = (...descriptors: CallDescriptor[]): RateLimitCall => ({
  domain: "api",
  descriptors,
  hitsAddend: 1,
});

describe("createExplainer", () => {
  let store: MemoryCounterStore;
  afterEach(() => store?.close());

  const setup = (extra: Partial<ExplainerOptions> = {}) => {
    let now = T0;
    const clock = () => now;
    store = new MemoryCounterStore({ clock });
    const table = policy();
    const common = { policy: () => table, store, counterKey };
    const limiter = createRateLimiter({ ...common, ...decideOptions });
    const explainer = createExplainer({ ...common, decideOptions, clock, ...extra });
    return { limiter, explainer, advance: (ms: number) => (now += ms) };
  };

  it("predicts the decision the next call gets, counting nothing itself", async () => {
    const { limiter, explainer, advance } = setup();
    const acme = call(d("tenant=acme,plan=pro"));
    for (let n = 0; n < 5; n++) {
      const first = await explainer.explain(acme);
      const again = await explainer.explain(acme);
      expect(again).toEqual(first);
      expect(await limiter.shouldRateLimit(acme)).toEqual(first.next);
      advance(7_000);
    }
    // Three admitted, then refused: the explanation shows the minute window spent and when it clears.
    const spent = await explainer.explain(acme);
    expect(spent.next.code).toBe("OVER_LIMIT");
    expect(spent.descriptors[0]?.windows.map((w) => [w.name, w.remaining, w.next.passes])).toEqual([
      ["pro_per_minute", 0, false],
      ["pro_per_day", 95, true],
    ]);
    expect(spent.descriptors[0]?.windows[0]?.next.retryAfterSeconds).toBeGreaterThan(0);
    expect(spent.next.responseHeaders).toContainEqual({
      key: "Retry-After",
      value: String(spent.descriptors[0]?.windows[0]?.next.retryAfterSeconds),
    });
  });

  it("says why each descriptor is or is not counted", async () => {
    const { explainer } = setup();
    const explained = await explainer.explain(
      call(
        d("tenant=acme,plan=pro"),
        d("tenant=acme,plan=gold"),
        d("route=health"),
        d("route=watched"),
        d("vip=yes"),
        d("route=health", { limitOverride: { requestsPerUnit: 7, unit: "hour" } }),
      ),
    );
    expect(explained.knownDomain).toBe(true);
    const [pro, gold, health, watched, vip, override] = explained.descriptors;
    expect(pro).toMatchObject({ outcome: "charged", mode: "enforced", ruleId: "pro_per_minute", cost: 1 });
    // The unlimited vip rule replaces pro_per_minute: only the day window is left.
    expect(pro?.replacedWindows).toEqual(["pro_per_minute"]);
    expect(pro?.windows.map((w) => w.name)).toEqual(["pro_per_day"]);
    expect(pro?.match?.steps.map((s) => s.node)).toEqual(["bare", "exact"]);
    expect(pro?.concurrency).toEqual({ rule: expect.objectContaining({ max: 20 }), held: undefined });
    expect(gold).toMatchObject({
      outcome: "unmatched",
      match: { unmatched: { index: 1, reason: "no-node" } },
    });
    expect(health).toMatchObject({ outcome: "whitelisted", windows: [] });
    expect(watched).toMatchObject({ outcome: "charged", mode: "shadow" });
    expect(vip).toMatchObject({ outcome: "unlimited" });
    expect(override).toMatchObject({ outcome: "charged", override: true });
    expect(override?.windows).toMatchObject([{ unit: "hour", limit: 7, remaining: 7 }]);
  });

  it("reports leases held for a lease descriptor and a rate descriptor of a capped node", async () => {
    const asked: string[] = [];
    const { explainer } = setup({
      leasesHeld: async (key) => {
        asked.push(key);
        return 4;
      },
    });
    const explained = await explainer.explain(
      call(d("tenant=acme,plan=pro"), d("tenant=acme,plan=pro,lease_acquire=req-1")),
    );
    const [rate, lease] = explained.descriptors;
    expect(rate?.concurrency).toMatchObject({ rule: { name: "pro_in_flight", max: 20 }, held: 4 });
    expect(lease).toMatchObject({ outcome: "lease", lease: "acquire", windows: [] });
    expect(lease?.concurrency?.held).toBe(4);
    // One lease set: the tenant's, beside its rate counters.
    expect(new Set(asked).size).toBe(1);
    expect(asked[0]).toMatch(/^sluice:\{.+\}:leases$/);
  });

  it("reads nothing for a call that limits nothing, and knows an unknown domain", async () => {
    const { explainer } = setup({ store: { peek: () => Promise.reject(new Error("must not be asked")) } });
    const explained = await explainer.explain({ ...call(d("tenant=acme")), domain: "web" });
    expect(explained).toMatchObject({ knownDomain: false, nowMs: T0, next: { code: "OK" } });
    expect(explained.descriptors).toMatchObject([{ outcome: "unmatched", match: undefined }]);
  });

  it("refuses a call the service would refuse", async () => {
    const { explainer } = setup();
    await expect(explainer.explain({ domain: "api", descriptors: [], hitsAddend: 0 })).rejects.toThrow(
      /descriptors must not be empty/,
    );
  });
});
