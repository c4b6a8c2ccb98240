import { afterEach, describe, expect, it } from "vitest";
import { fakeTime } from "../../test/support/fake-time.ts";
import { buildPolicyTable } from "../policy/build-policy-table.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import { counterKey } from "../store/counter-key.ts";
import { leaseKey } from "../store/lease-store.ts";
import { MemoryCounterStore } from "../store/memory-counter-store.ts";
import { MemoryLeaseStore } from "../store/memory-lease-store.ts";
import { withConcurrencyLimits } from "./concurrency-limiter.ts";
import type { LeaseEvent } from "./lease-event.ts";
import { createLeaseQueue } from "./lease-queue.ts";
import type { Decision, RateLimitCall } from "./limiter-types.ts";
import { type CallContext, createRateLimiter } from "./rate-limiter.ts";

const POLICY = `
domain: api
descriptors:
  - key: tenant
    descriptors:
      - key: plan
        value: pro
        rate_limit: { name: pro_per_minute, unit: minute, requests_per_unit: 5 }
        concurrency: { name: pro_in_flight, max: 2, queue_timeout: 500ms, lease_ttl: 60s }
      - key: plan
        value: lax
        count_rejected: false
        rate_limit: { name: lax_per_minute, unit: minute, requests_per_unit: 100 }
        concurrency: { max: 1, queue_timeout: 200ms }
      - key: plan
        value: free
        rate_limit: { unit: minute, requests_per_unit: 20 }
`;

function table(): PolicyTable {
  const built = buildPolicyTable([{ file: "api.yaml", text: POLICY }]);
  if (!built.ok) throw new Error(JSON.stringify(built.errors));
  return built.table;
}

let cleanups: (() => unknown)[] = [];
/** Runs on every lease event, e.g. to cancel a call at a chosen moment. */
let onEvent: (event: LeaseEvent) => void = () => {};
afterEach(async () => {
  onEvent = () => {};
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function setUp() {
  // On a minute boundary, so the sliding minute starts empty and stays put while the tests wait.
  const time = fakeTime(1_700_006_400_000);
  const counters = new MemoryCounterStore({ clock: time.clock });
  const leaseStore = new MemoryLeaseStore({ clock: time.clock });
  const queue = createLeaseQueue({
    store: leaseStore,
    clock: time.clock,
    timers: time.timers,
    retryIntervalMs: 100,
  });
  cleanups.push(
    () => queue.close(),
    () => counters.close(),
    () => leaseStore.close(),
  );
  const policy = table();
  const decideOptions = { headerStyle: "x-ratelimit", upstreamHeaders: false } as const;
  const inner = createRateLimiter({ policy: () => policy, store: counters, counterKey, ...decideOptions });
  const events: LeaseEvent[] = [];
  const limiter = withConcurrencyLimits(inner, {
    policy: () => policy,
    store: counters,
    counterKey,
    decideOptions,
    leases: queue,
    clock: time.clock,
    onLeaseEvent: (event) => {
      events.push(event);
      onEvent(event);
    },
  });
  const leaseSet = (plan: string) =>
    leaseKey(counterKey(JSON.stringify(["api", ["tenant", "acme"], ["plan", plan]])));
  return { time, limiter, leaseStore, events, leaseSet };
}

const tenantPlan = (plan: string) => [
  { key: "tenant", value: "acme" },
  { key: "plan", value: plan },
];
/** What envoy/envoy.yaml sends when a request starts: the plan descriptor and its lease. */
const start = (id: string, plan = "pro"): RateLimitCall => ({
  domain: "api",
  hitsAddend: 0,
  descriptors: [
    { entries: tenantPlan(plan) },
    { entries: [...tenantPlan(plan), { key: "lease_acquire", value: id }] },
  ],
});
/** What it sends when the stream ends (`apply_on_stream_done`). */
const done = (id: string, plan = "pro"): RateLimitCall => ({
  domain: "api",
  hitsAddend: 0,
  descriptors: [{ entries: [...tenantPlan(plan), { key: "lease_release", value: id }] }],
});
const rateOnly = (plan = "pro"): RateLimitCall => ({
  domain: "api",
  hitsAddend: 0,
  descriptors: [{ entries: tenantPlan(plan) }],
});

function track(decided: Decision | Promise<Decision>) {
  const state: { decision?: Decision } = {};
  void Promise.resolve(decided).then((decision) => {
    state.decision = decision;
  });
  return state;
}

const header = (decision: Decision | undefined, name: string) =>
  decision?.responseHeaders.find((h) => h.key.toLowerCase() === name)?.value;
const body = (decision: Decision | undefined) =>
  decision?.body === undefined ? undefined : JSON.parse(new TextDecoder().decode(decision.body));

describe("concurrency limits composed with rate windows", () => {
  it("admits up to max in flight, reporting the lease beside the rate figures", async () => {
    const { limiter, events } = setUp();
    const first = await limiter.shouldRateLimit(start("r1"));
    expect(first.code).toBe("OK");
    expect(first.statuses).toEqual([
      expect.objectContaining({ code: "OK", limitRemaining: 4 }),
      { code: "OK", limitRemaining: 1 },
    ]);
    expect(header(first, "x-ratelimit-remaining")).toBe("4");
    expect(first.outcomes.map((o) => [o.ruleId, o.code])).toEqual([
      ["pro_per_minute", "OK"],
      ["pro_in_flight", "OK"],
    ]);
    expect((await limiter.shouldRateLimit(start("r2"))).code).toBe("OK");
    expect(events).toEqual([
      { kind: "taken", domain: "api", ruleId: "pro_in_flight", queued: false, waitedMs: 0 },
      { kind: "taken", domain: "api", ruleId: "pro_in_flight", queued: false, waitedMs: 0 },
    ]);
  });

  it("queues the next request for queue_timeout, then refuses it with Retry-After, counting it as refused", async () => {
    const { time, limiter, events } = setUp();
    await limiter.shouldRateLimit(start("r1"));
    await limiter.shouldRateLimit(start("r2"));
    const third = track(limiter.shouldRateLimit(start("r3")));
    await time.advance(499);
    expect(third.decision).toBeUndefined();
    await time.advance(1);
    const refused = third.decision;
    expect(refused?.code).toBe("OVER_LIMIT");
    expect(refused?.statuses.map((s) => s.code)).toEqual(["OK", "OVER_LIMIT"]);
    expect(header(refused, "retry-after")).toBe("1");
    expect(header(refused, "x-ratelimit-limit")).toBeUndefined();
    expect(body(refused)).toEqual({
      error: "concurrency_limited",
      limit: "pro_in_flight",
      limit_value: 2,
      queue_timeout_ms: 500,
      retry_after_seconds: 1,
    });
    expect(events.at(-1)).toEqual({
      kind: "refused",
      domain: "api",
      ruleId: "pro_in_flight",
      reason: "timeout",
      queued: true,
      waitedMs: 500,
    });
    // count_rejected (the default): the refused request used one of the five a minute.
    const next = await limiter.shouldRateLimit(rateOnly());
    expect(header(next, "x-ratelimit-remaining")).toBe("1");
  });

  it("does not charge windows with count_rejected: false for a concurrency refusal", async () => {
    const { time, limiter } = setUp();
    await limiter.shouldRateLimit(start("a", "lax"));
    const refused = track(limiter.shouldRateLimit(start("b", "lax")));
    await time.advance(200);
    expect(refused.decision?.code).toBe("OVER_LIMIT");
    expect(header(await limiter.shouldRateLimit(rateOnly("lax")), "x-ratelimit-remaining")).toBe("98");
  });

  it("gives the slot to the queued request as soon as a stream-done release arrives", async () => {
    const { time, limiter, events } = setUp();
    await limiter.shouldRateLimit(start("r1"));
    await limiter.shouldRateLimit(start("r2"));
    const third = track(limiter.shouldRateLimit(start("r3")));
    await time.advance(120);
    const release = await limiter.shouldRateLimit(done("r1"));
    expect(release).toMatchObject({ code: "OK", statuses: [{ code: "OK", limitRemaining: 1 }] });
    await time.settle();
    expect(third.decision?.code).toBe("OK");
    expect(events).toContainEqual({
      kind: "freed",
      domain: "api",
      ruleId: "pro_in_flight",
      released: 1,
      expired: 0,
    });
    expect(events.at(-1)).toEqual({
      kind: "taken",
      domain: "api",
      ruleId: "pro_in_flight",
      queued: true,
      waitedMs: 120,
    });
  });

  it("takes no lease for a request its rate window refuses, and answers it at once", async () => {
    const { limiter, leaseStore, leaseSet, events } = setUp();
    for (let n = 0; n < 5; n++) await limiter.shouldRateLimit(rateOnly());
    const refused = await limiter.shouldRateLimit(start("r1"));
    // Not even for a moment: the windows are checked before any lease is asked for.
    expect(events).toEqual([]);
    expect(refused.code).toBe("OVER_LIMIT");
    expect(body(refused)).toMatchObject({ error: "rate_limited", limit: "pro_per_minute" });
    expect(refused.statuses.map((s) => s.code)).toEqual(["OVER_LIMIT", "OK"]);
    expect(await leaseStore.release(leaseSet("pro"), "r1")).toMatchObject({ released: false, held: 0 });
  });

  it("makes a refused request's release a no-op: it frees nobody's slot", async () => {
    const { time, limiter, leaseStore, leaseSet } = setUp();
    await limiter.shouldRateLimit(start("r1"));
    await limiter.shouldRateLimit(start("r2"));
    const third = track(limiter.shouldRateLimit(start("r3")));
    await time.advance(500);
    expect(third.decision?.code).toBe("OVER_LIMIT");
    const release = await limiter.shouldRateLimit(done("r3"));
    expect(release.statuses).toEqual([{ code: "OK", limitRemaining: 0 }]);
    expect(
      await leaseStore.acquire({ key: leaseSet("pro"), leaseId: "probe", max: 2, ttlMs: 1000 }),
    ).toMatchObject({
      granted: false,
      held: 2,
    });
  });

  it("gives the lease back when the rate window filled while the request queued", async () => {
    const { time, limiter, leaseStore, leaseSet } = setUp();
    await limiter.shouldRateLimit(start("r1"));
    await limiter.shouldRateLimit(start("r2"));
    const third = track(limiter.shouldRateLimit(start("r3")));
    await time.advance(10);
    for (let n = 0; n < 3; n++) await limiter.shouldRateLimit(rateOnly());
    await limiter.shouldRateLimit(done("r1"));
    await time.settle();
    expect(third.decision?.code).toBe("OVER_LIMIT");
    expect(body(third.decision)).toMatchObject({ error: "rate_limited" });
    expect(await leaseStore.release(leaseSet("pro"), "r3")).toMatchObject({ released: false, held: 1 });
  });

  it("stops queueing when the caller cancels, and gives back a lease it got after cancelling", async () => {
    const { time, limiter, leaseStore, leaseSet } = setUp();
    await limiter.shouldRateLimit(start("r1"));
    await limiter.shouldRateLimit(start("r2"));
    const abort = new AbortController();
    const third = track(limiter.shouldRateLimit(start("r3"), { signal: abort.signal }));
    await time.advance(50);
    abort.abort();
    await time.settle();
    expect(third.decision?.code).toBe("OVER_LIMIT");
    await limiter.shouldRateLimit(done("r1"));
    expect(await leaseStore.release(leaseSet("pro"), "r3")).toMatchObject({ released: false, held: 1 });

    const gone = new AbortController();
    gone.abort();
    await limiter.shouldRateLimit(start("r4"), { signal: gone.signal });
    expect(await leaseStore.release(leaseSet("pro"), "r4")).toMatchObject({ released: false, held: 1 });

    // Cancelled after the lease was granted, before the answer: Envoy will send no release for it.
    const late = new AbortController();
    onEvent = (event) => {
      if (event.kind === "taken") late.abort();
    };
    await limiter.shouldRateLimit(start("r5"), { signal: late.signal });
    expect(await leaseStore.release(leaseSet("pro"), "r5")).toMatchObject({ released: false, held: 1 });
  });

  it("gives back the leases of an answer the edge could not deliver, and offers it only with leases taken", async () => {
    const { limiter, time, events } = setUp();
    expect((await limiter.shouldRateLimit(start("r1"))).code).toBe("OK");
    const lost = await limiter.shouldRateLimit(start("r2"));
    expect(lost.code).toBe("OK");
    // The caller cancelled before the answer went out: Envoy will send no release for it.
    lost.undelivered?.();
    await time.settle();
    expect(events.at(-1)).toMatchObject({ kind: "freed", released: 1 });
    expect((await limiter.shouldRateLimit(start("r3"))).code).toBe("OK");
    expect((await limiter.shouldRateLimit(rateOnly())).undelivered).toBeUndefined();
  });

  it("ends the wait early enough to answer before the caller's deadline", async () => {
    const { time, limiter } = setUp();
    await limiter.shouldRateLimit(start("r1"));
    await limiter.shouldRateLimit(start("r2"));
    const context: CallContext = { deadlineMs: time.clock() + 200 };
    const third = track(limiter.shouldRateLimit(start("r3"), context));
    await time.advance(149);
    expect(third.decision).toBeUndefined();
    await time.advance(1);
    expect(third.decision?.code).toBe("OVER_LIMIT");
  });

  it("answers lease descriptors that match no concurrency limit as unlimited, and lease-only calls", async () => {
    const { limiter } = setUp();
    const free = await limiter.shouldRateLimit(start("r1", "free"));
    expect(free.code).toBe("OK");
    expect(free.statuses[1]).toEqual({ code: "OK", limitRemaining: 0 });
    const leaseOnly: RateLimitCall = { ...start("r2"), descriptors: start("r2").descriptors.slice(1) };
    expect(await limiter.shouldRateLimit(leaseOnly)).toMatchObject({
      code: "OK",
      statuses: [{ code: "OK", limitRemaining: 1 }],
      responseHeaders: [],
    });
    const unknownDomain = await limiter.shouldRateLimit({ ...start("r3"), domain: "other" });
    expect(unknownDomain.statuses).toEqual([
      { code: "OK", limitRemaining: 0 },
      { code: "OK", limitRemaining: 0 },
    ]);
  });

  it("reclaims a lease whose release never came after lease_ttl, counting it expired", async () => {
    const { time, limiter, events } = setUp();
    await limiter.shouldRateLimit(start("lost-1"));
    await limiter.shouldRateLimit(start("lost-2"));
    await time.advance(60_000);
    // A new minute: the rate window has room again, and both leases are past their 60 s.
    expect((await limiter.shouldRateLimit(start("r3"))).code).toBe("OK");
    expect(events).toContainEqual({
      kind: "freed",
      domain: "api",
      ruleId: "pro_in_flight",
      released: 0,
      expired: 2,
    });
  });
});
