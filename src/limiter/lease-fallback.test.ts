import { afterEach, describe, expect, it } from "vitest";
import { fakeTime } from "../../test/support/fake-time.ts";
import { buildPolicyTable } from "../policy/build-policy-table.ts";
import type { ConcurrencyRule } from "../policy/concurrency-limit.ts";
import { type FailurePolicy, failurePolicyOf } from "../policy/failure-policy.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import { counterKey } from "../store/counter-key.ts";
import { StoreError } from "../store/counter-store.ts";
import { type LeaseStore, leaseKey } from "../store/lease-store.ts";
import { MemoryCounterStore } from "../store/memory-counter-store.ts";
import { MemoryLeaseStore } from "../store/memory-lease-store.ts";
import { withConcurrencyLimits } from "./concurrency-limiter.ts";
import type { LeaseEvent } from "./lease-event.ts";
import { leaseFallback, localShare } from "./lease-fallback.ts";
import { createLeaseQueue, type LeaseQueue } from "./lease-queue.ts";
import type { Decision, RateLimitCall } from "./limiter-types.ts";
import { createRateLimiter, type StoreFallbackEvent } from "./rate-limiter.ts";

const domain = (name: string, policy?: FailurePolicy) => `
domain: ${name}
${policy === undefined ? "" : `failure_policy: ${policy}`}
descriptors:
  - key: tenant
    descriptors:
      - key: plan
        value: pro
        rate_limit: { name: pro_per_minute, unit: minute, requests_per_unit: 5 }
        concurrency: { name: pro_in_flight, max: 2, queue_timeout: 200ms, lease_ttl: 60s }
`;

function table(): PolicyTable {
  const built = buildPolicyTable([
    { file: "default.yaml", text: domain("default") },
    { file: "allow.yaml", text: domain("allow", "allow") },
    { file: "deny.yaml", text: domain("deny", "deny") },
    { file: "local.yaml", text: domain("local", "local") },
  ]);
  if (!built.ok) throw new Error(JSON.stringify(built.errors));
  return built.table;
}

const RULE: ConcurrencyRule = { ruleId: "pro_in_flight", max: 5, queueTimeoutMs: 0, leaseTtlMs: 60_000 };

describe("the pure parts", () => {
  it("shares a limit between instances, keeping at least one lease", () => {
    const cases: [max: number, instances: number, share: number][] = [
      [5, 1, 5],
      [5, 2, 2],
      [20, 3, 6],
      [2, 2, 1],
      [1, 4, 1],
      [100, 100, 1],
    ];
    for (const [max, instances, share] of cases) {
      expect(localShare({ ...RULE, max }, instances)).toEqual({ ...RULE, max: share });
    }
  });

  it("answers every policy but unavailable, and local only with local leases", () => {
    // Only whether local leases exist matters here.
    const local = { leases: {} as LeaseQueue, expectedInstances: 1 };
    expect(leaseFallback("unavailable", local)).toBeUndefined();
    expect(leaseFallback("allow", undefined)).toBe("allow");
    expect(leaseFallback("deny", undefined)).toBe("deny");
    expect(leaseFallback("local", local)).toBe("local");
    expect(leaseFallback("local", undefined)).toBeUndefined();
  });

  it("takes a domain's own failure policy over the service's", () => {
    const policies = table();
    expect(failurePolicyOf(policies, "allow", "deny")).toBe("allow");
    expect(failurePolicyOf(policies, "default", "deny")).toBe("deny");
    expect(failurePolicyOf(policies, "default", undefined)).toBe("unavailable");
    expect(failurePolicyOf(policies, "nowhere", "local")).toBe("local");
  });
});

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The shared lease store's state: `down` fails every call transiently, `broken` with an error reply. */
type StoreState = "up" | "down" | "broken";

const connectionClosed = () => new StoreError("redis: Connection is closed.", { transient: true });

function setUp(options: { expectedInstances?: number; failurePolicy?: FailurePolicy } = {}) {
  // On a minute boundary, so the sliding minute starts empty and stays put while the tests wait.
  const time = fakeTime(1_700_006_400_000);
  const counters = new MemoryCounterStore({ clock: time.clock });
  const shared = new MemoryLeaseStore({ clock: time.clock });
  const localStore = new MemoryLeaseStore({ clock: time.clock });
  // `counters` covers only the checks the lease path makes itself (dry run, refusal figures).
  const state: { store: StoreState; counters: "up" | "down" } = { store: "up", counters: "up" };
  const failing = <T>(call: () => Promise<T>): Promise<T> => {
    if (state.store === "down") return Promise.reject(connectionClosed());
    if (state.store === "broken")
      return Promise.reject(new StoreError("redis: ERR script error", { transient: false }));
    return call();
  };
  const flaky: LeaseStore = {
    acquire: (request) => failing(() => shared.acquire(request)),
    release: (key, leaseId) => failing(() => shared.release(key, leaseId)),
    held: (key) => failing(() => shared.held(key)),
    onRelease: (listener) => shared.onRelease(listener),
    close: () => shared.close(),
  };
  const queueOver = (store: LeaseStore) =>
    createLeaseQueue({ store, clock: time.clock, timers: time.timers, retryIntervalMs: 100 });
  const leases = queueOver(flaky);
  const local = { leases: queueOver(localStore), expectedInstances: options.expectedInstances ?? 1 };
  cleanups.push(
    () => leases.close(),
    () => local.leases.close(),
    () => counters.close(),
    () => shared.close(),
    () => localStore.close(),
  );
  const policy = table();
  const decideOptions = { headerStyle: "x-ratelimit", upstreamHeaders: false } as const;
  const inner = createRateLimiter({ policy: () => policy, store: counters, counterKey, ...decideOptions });
  const events: LeaseEvent[] = [];
  const fallbacks: Omit<StoreFallbackEvent, "error">[] = [];
  const limiter = withConcurrencyLimits(inner, {
    policy: () => policy,
    store: {
      charge: (charges) =>
        state.counters === "down" ? Promise.reject(connectionClosed()) : counters.charge(charges),
      peek: (charges) => counters.peek(charges),
      addHits: (hits) => counters.addHits(hits),
      ping: () => counters.ping(),
      close: () => counters.close(),
    },
    counterKey,
    decideOptions,
    leases,
    clock: time.clock,
    onLeaseEvent: (event) => events.push(event),
    failurePolicy: options.failurePolicy,
    local,
    onFallback: ({ domain, policy }) => fallbacks.push({ domain, policy }),
  });
  const leaseSet = (name: string) =>
    leaseKey(counterKey(JSON.stringify([name, ["tenant", "acme"], ["plan", "pro"]])));
  return { time, limiter, state, shared, localStore, events, fallbacks, leaseSet };
}

const tenantPlan = [
  { key: "tenant", value: "acme" },
  { key: "plan", value: "pro" },
];
/** What envoy/envoy.yaml sends when a request starts: the plan descriptor and its lease. */
const start = (domain: string, id: string): RateLimitCall => ({
  domain,
  hitsAddend: 0,
  descriptors: [{ entries: tenantPlan }, { entries: [...tenantPlan, { key: "lease_acquire", value: id }] }],
});
/** What it sends when the stream ends. */
const done = (domain: string, id: string): RateLimitCall => ({
  domain,
  hitsAddend: 0,
  descriptors: [{ entries: [...tenantPlan, { key: "lease_release", value: id }] }],
});
const rateOnly = (domain: string): RateLimitCall => ({
  domain,
  hitsAddend: 0,
  descriptors: [{ entries: tenantPlan }],
});

const header = (decision: Decision, name: string) =>
  decision.responseHeaders.find((h) => h.key.toLowerCase() === name)?.value;
const body = (decision: Decision) =>
  decision.body === undefined ? undefined : JSON.parse(new TextDecoder().decode(decision.body));

describe("a lease store that fails transiently, answered per the failure policy", () => {
  it("unavailable (the service default): the call fails with the store's error, counted", async () => {
    const { limiter, state, fallbacks, events } = setUp();
    state.store = "down";
    await expect(limiter.shouldRateLimit(start("default", "r1"))).rejects.toMatchObject({
      name: "StoreError",
      transient: true,
    });
    expect(fallbacks).toEqual([{ domain: "default", policy: "unavailable" }]);
    expect(events).toEqual([]);
  });

  it("allow: admits without a lease, still charging the rate windows", async () => {
    const { limiter, state, fallbacks, events, shared, leaseSet } = setUp();
    state.store = "down";
    const decision = await limiter.shouldRateLimit(start("allow", "r1"));
    expect(decision.code).toBe("OK");
    expect(decision.statuses[1]).toEqual({ code: "OK", limitRemaining: 0 });
    expect(header(decision, "x-ratelimit-remaining")).toBe("4");
    // No rule outcome for the lease: it was not decided by its limit.
    expect(decision.outcomes.map((o) => o.ruleId)).toEqual(["pro_per_minute"]);
    expect(fallbacks).toEqual([{ domain: "allow", policy: "allow" }]);
    expect(events).toEqual([]);
    state.store = "up";
    expect(
      await shared.acquire({ key: leaseSet("allow"), leaseId: "x", max: 2, ttlMs: 1_000 }),
    ).toMatchObject({
      held: 1,
    });
  });

  it("deny: OVER_LIMIT without headers or body, counting nothing", async () => {
    const { limiter, state, fallbacks } = setUp();
    state.store = "down";
    const decision = await limiter.shouldRateLimit(start("deny", "r1"));
    expect(decision.code).toBe("OVER_LIMIT");
    expect(decision.responseHeaders).toEqual([]);
    expect(decision.body).toBeUndefined();
    expect(decision.statuses[1]).toEqual({ code: "OVER_LIMIT", limitRemaining: 0 });
    expect(decision.outcomes).toEqual([]);
    expect(fallbacks).toEqual([{ domain: "deny", policy: "deny" }]);
    state.store = "up";
    const after = await limiter.shouldRateLimit(rateOnly("deny"));
    expect(header(after, "x-ratelimit-remaining")).toBe("4");
  });

  it("the service's policy answers a domain without its own", async () => {
    const { limiter, state, fallbacks } = setUp({ failurePolicy: "deny" });
    state.store = "down";
    expect((await limiter.shouldRateLimit(start("default", "r1"))).code).toBe("OVER_LIMIT");
    expect(fallbacks).toEqual([{ domain: "default", policy: "deny" }]);
  });

  it("local: takes leases from this instance's memory at its share of max, queueing as usual", async () => {
    const { time, limiter, state, events } = setUp({ expectedInstances: 2 });
    state.store = "down";
    const first = await limiter.shouldRateLimit(start("local", "r1"));
    expect(first.code).toBe("OK");
    // max 2 over 2 instances: this one holds 1, now used.
    expect(first.statuses[1]).toEqual({ code: "OK", limitRemaining: 0 });
    const second = limiter.shouldRateLimit(start("local", "r2"));
    await time.advance(200);
    const refused = await second;
    expect(refused.code).toBe("OVER_LIMIT");
    expect(body(refused)).toMatchObject({
      error: "concurrency_limited",
      limit_value: 1,
      queue_timeout_ms: 200,
    });
    expect(events.map((e) => e.kind)).toEqual(["taken", "refused"]);

    // The release cannot reach the shared store, but frees the local lease: the next one is taken.
    const released = await limiter.shouldRateLimit(done("local", "r1"));
    expect(released.code).toBe("OK");
    expect(events.at(-1)).toMatchObject({ kind: "freed", released: 1 });
    expect((await limiter.shouldRateLimit(start("local", "r3"))).code).toBe("OK");
  });

  it("local: refuses for concurrency without the rate figures when the counters fail too", async () => {
    const { time, limiter, state } = setUp({ expectedInstances: 2 });
    state.store = "down";
    expect((await limiter.shouldRateLimit(start("local", "r1"))).code).toBe("OK");
    state.counters = "down";
    const second = limiter.shouldRateLimit(start("local", "r2"));
    await time.advance(200);
    const refused = await second;
    expect(refused.code).toBe("OVER_LIMIT");
    expect(body(refused)).toMatchObject({ error: "concurrency_limited", limit_value: 1 });
    expect(refused.statuses[0]).toEqual({ code: "OK", limitRemaining: 0 });
  });

  it("local: a request queued in the shared store when it fails waits on locally for the time left", async () => {
    const { time, limiter, state, shared, leaseSet } = setUp();
    await shared.acquire({ key: leaseSet("local"), leaseId: "a", max: 2, ttlMs: 60_000 });
    await shared.acquire({ key: leaseSet("local"), leaseId: "b", max: 2, ttlMs: 60_000 });
    const queued = limiter.shouldRateLimit(start("local", "r1"));
    await time.advance(50);
    state.store = "down";
    // The next retry fails; the local set is empty, so the request gets its lease there.
    await time.advance(100);
    expect((await queued).code).toBe("OK");
  });

  it("leases come from the shared store again once it answers; a local lease is released too", async () => {
    const { limiter, state, shared, localStore, leaseSet } = setUp();
    state.store = "down";
    expect((await limiter.shouldRateLimit(start("local", "r1"))).code).toBe("OK");
    state.store = "up";
    expect((await limiter.shouldRateLimit(start("local", "r2"))).code).toBe("OK");
    expect(await shared.release(leaseSet("local"), "r2")).toMatchObject({ released: true });
    // r1's release, after the store is back, frees the local lease (the shared store never had it).
    expect((await limiter.shouldRateLimit(done("local", "r1"))).code).toBe("OK");
    expect(
      await localStore.acquire({ key: leaseSet("local"), leaseId: "x", max: 2, ttlMs: 1 }),
    ).toMatchObject({
      held: 1,
    });
  });

  it("a release the store cannot take is skipped, whatever the policy: its lease expires by ttl", async () => {
    const { limiter, state, fallbacks } = setUp();
    expect((await limiter.shouldRateLimit(start("default", "r1"))).code).toBe("OK");
    state.store = "down";
    const released = await limiter.shouldRateLimit(done("default", "r1"));
    expect(released.code).toBe("OK");
    expect(released.statuses).toEqual([{ code: "OK", limitRemaining: 0 }]);
    expect(fallbacks).toEqual([{ domain: "default", policy: "unavailable" }]);
  });

  it("an error that is not transient fails the call under every policy", async () => {
    const { limiter, state, fallbacks } = setUp();
    state.store = "broken";
    for (const name of ["allow", "deny", "local"]) {
      await expect(limiter.shouldRateLimit(start(name, "r1"))).rejects.toMatchObject({ transient: false });
      await expect(limiter.shouldRateLimit(done(name, "r1"))).rejects.toMatchObject({ transient: false });
    }
    expect(fallbacks).toEqual([]);
  });
});
