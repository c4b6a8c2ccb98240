import { afterEach, describe, expect, it } from "vitest";
import { MemoryCounterStore } from "../store/memory-counter-store.ts";
import { decide } from "./decide.ts";
import { createOverLimitCache } from "./over-limit-cache.ts";
import { admissionMode, type ChargePlan, type PlannedDescriptor, type RuleMode } from "./plan-charges.ts";
import { createRefusedHits } from "./refused-hits.ts";

// 10 s into a minute slot.
const T0 = 1_700_000_010_000;
const MINUTE = 60_000;

interface Spec {
  readonly key: string;
  readonly limit: number;
  readonly mode?: RuleMode;
  readonly cost?: number;
  readonly countRejected?: boolean;
}

/** A plan as planCharges makes it: one charge per descriptor, each with one minute window. */
function plan(...specs: Spec[]): ChargePlan {
  const descriptors: PlannedDescriptor[] = specs.map((s, i) => ({
    kind: "charged",
    ruleId: s.key,
    mode: s.mode ?? "enforced",
    cost: s.cost ?? 1,
    chargeIndex: i,
    windows: [{ unit: "minute", requestsPerUnit: s.limit, name: `${s.key}_per_minute`, windowMs: MINUTE }],
  }));
  const charges = specs.map((s) => ({
    counterKey: `sluice:{${s.key}}`,
    mode: admissionMode(s.mode ?? "enforced"),
    cost: s.cost ?? 1,
    countRejected: s.countRejected ?? false,
    windows: [{ windowMs: MINUTE, limit: s.limit }],
  }));
  return { descriptors, charges };
}

const headers = { headerStyle: "x-ratelimit", upstreamHeaders: false } as const;

describe("createOverLimitCache", () => {
  let now = T0;
  let store: MemoryCounterStore | undefined;
  const open = () => {
    now = T0;
    store = new MemoryCounterStore({ clock: () => now });
    return store;
  };
  afterEach(async () => {
    await store?.close();
  });

  /** Charges `calls` calls of the plan at the current instant; returns the last answer. */
  async function charge(s: MemoryCounterStore, p: ChargePlan, calls: number) {
    let last = await s.charge(p.charges);
    for (let n = 1; n < calls; n++) last = await s.charge(p.charges);
    return last;
  }

  it("answers a cached refusal exactly as the store would, Retry-After counting down", async () => {
    const s = open();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits: createRefusedHits() });
    const p = plan({ key: "tenant", limit: 3 }, { key: "api-key", limit: 100 });
    const refused = await charge(s, p, 4);
    expect(refused.admitted).toBe(false);
    cache.remember(p, refused, now);

    // Refused hits are not counted here (countRejected false), so the store's state is frozen and
    // its answer at each later instant is what the cache must reproduce.
    for (const later of [0, 1_000, 20_000, 49_999]) {
      now = T0 + later;
      const cached = cache.lookup(p, now);
      const fromStore = await s.charge(p.charges);
      expect(cached).toEqual(fromStore);
      expect(decide(p, cached, headers)).toEqual(decide(p, fromStore, headers));
    }
    const retryAt = (d: ReturnType<typeof decide>) => d.responseHeaders.find((h) => h.key === "Retry-After");
    // The entry follows the latest answer; start again from the refusal to go back in time.
    cache.remember(p, refused, T0);
    now = T0 + 1_000;
    const early = retryAt(decide(p, cache.lookup(p, now), headers));
    now = T0 + 20_000;
    const late = retryAt(decide(p, cache.lookup(p, now), headers));
    expect(Number(late?.value)).toBeLessThan(Number(early?.value));
  });

  it("counts refusals it answers (count_rejected) as the store would, and hands their hits to the store", async () => {
    const s = open();
    const reference = new MemoryCounterStore({ clock: () => now });
    const refusedHits = createRefusedHits();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits });
    const p = plan(
      { key: "tenant", limit: 3, countRejected: true },
      { key: "api-key", limit: 100, countRejected: true },
    );
    cache.remember(p, await charge(s, p, 4), now);
    await charge(reference, p, 4);
    // A retry loop: the cache answers each call as a store that counts every refusal would.
    for (const later of [0, 1_000, 2_000, 30_000, 59_000]) {
      now = T0 + later;
      const cached = cache.lookup(p, now);
      const fromStore = await reference.charge(p.charges);
      expect(cached).toEqual(fromStore);
      expect(decide(p, cached, headers)).toEqual(decide(p, fromStore, headers));
    }
    // Written to the store, the refused hits make it hold what the reference holds.
    await s.addHits(refusedHits.take());
    expect(refusedHits.size).toBe(0);
    const check = { ...p, charges: p.charges.map((c) => ({ ...c, cost: 0 })) };
    expect(await s.charge(check.charges)).toEqual(await reference.charge(check.charges));
    await reference.close();
  });

  it("lets a refused call with a cost above the limit add the limit only", async () => {
    const s = open();
    const refusedHits = createRefusedHits();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits });
    const p = plan({ key: "tenant", limit: 3, countRejected: true, cost: 2 });
    cache.remember(p, await charge(s, p, 3), now);
    const answered = cache.lookup(p, now);
    expect(answered?.counts[0]?.[0]?.current).toBe(8);
    expect(refusedHits.take()).toEqual([
      { counterKey: "sluice:{tenant}", windowMs: MINUTE, slot: Math.floor(T0 / MINUTE), hits: 2 },
    ]);
  });

  it("lets the store decide again from the Retry-After instant on", async () => {
    const s = open();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits: createRefusedHits() });
    const p = plan({ key: "tenant", limit: 3 });
    const refused = await charge(s, p, 4);
    cache.remember(p, refused, now);
    const retryAfter = Number(
      decide(p, refused, headers).responseHeaders.find((h) => h.key === "Retry-After")?.value,
    );
    now = T0 + retryAfter * 1000 - 1;
    expect(cache.lookup(p, now)?.admitted).toBe(false);
    now = T0 + retryAfter * 1000;
    expect(cache.lookup(p, now)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect((await s.charge(p.charges)).admitted).toBe(true);
  });

  it("follows the store's clock when it differs from the local one", async () => {
    const s = open();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits: createRefusedHits() });
    const p = plan({ key: "tenant", limit: 1 });
    const refused = await charge(s, p, 2);
    // The local clock runs 5 s behind the store's.
    cache.remember(p, refused, now - 5_000);
    now = T0 + 10_000;
    expect(cache.lookup(p, now - 5_000)).toEqual(await s.charge(p.charges));
  });

  it("never caches a call with a shadow descriptor", async () => {
    const s = open();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits: createRefusedHits() });
    const p = plan({ key: "tenant", limit: 1 }, { key: "trial", limit: 1, mode: "shadow" });
    const refused = await charge(s, p, 2);
    expect(refused.admitted).toBe(false);
    cache.remember(p, refused, now);
    expect(cache.size).toBe(0);
    expect(cache.lookup(p, now)).toBeUndefined();
  });

  it("caches a refused call with a quota descriptor, which never refuses and is charged as shadow", async () => {
    const s = open();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits: createRefusedHits() });
    const p = plan({ key: "tenant", limit: 1 }, { key: "budget", limit: 1, mode: "quota" });
    const refused = await charge(s, p, 2);
    expect(refused.admitted).toBe(false);
    cache.remember(p, refused, now);
    expect(cache.size).toBe(1);
    now = T0 + 5_000;
    expect(cache.lookup(p, now)).toEqual(await s.charge(p.charges));
  });

  it("does not cache admitted calls, nor refusals no wait can clear", async () => {
    const s = open();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits: createRefusedHits() });
    const fits = plan({ key: "a", limit: 5 });
    cache.remember(fits, await s.charge(fits.charges), now);
    const tooBig = plan({ key: "b", limit: 5, cost: 6 });
    const refused = await s.charge(tooBig.charges);
    expect(refused.admitted).toBe(false);
    cache.remember(tooBig, refused, now);
    expect(cache.size).toBe(0);
  });

  it("answers only the very same charges", async () => {
    const s = open();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits: createRefusedHits() });
    const p = plan({ key: "tenant", limit: 1 });
    cache.remember(p, await charge(s, p, 2), now);
    expect(cache.lookup(plan({ key: "tenant", limit: 1, cost: 2 }), now)).toBeUndefined();
    expect(cache.lookup(plan({ key: "tenant", limit: 2 }), now)).toBeUndefined();
    expect(cache.lookup(plan({ key: "tenant", limit: 1 }, { key: "key", limit: 9 }), now)).toBeUndefined();
    expect(cache.lookup(plan({ key: "tenant", limit: 1 }), now)?.admitted).toBe(false);
  });

  it("evicts the least recently used entry beyond its size, and counts hits and evictions", async () => {
    const s = open();
    let hits = 0;
    let evictions = 0;
    const cache = createOverLimitCache({
      maxEntries: 2,
      refusedHits: createRefusedHits(),
      onHit: () => hits++,
      onEviction: () => evictions++,
    });
    const [a, b, c] = ["a", "b", "c"].map((key) => plan({ key, limit: 1 })) as [
      ChargePlan,
      ChargePlan,
      ChargePlan,
    ];
    cache.remember(a, await charge(s, a, 2), now);
    cache.remember(b, await charge(s, b, 2), now);
    expect(cache.lookup(a, now)?.admitted).toBe(false); // a is now the most recently used
    cache.remember(c, await charge(s, c, 2), now);
    expect(cache.size).toBe(2);
    expect(evictions).toBe(1);
    expect(cache.lookup(b, now)).toBeUndefined();
    expect(cache.lookup(a, now)?.admitted).toBe(false);
    expect(cache.lookup(c, now)?.admitted).toBe(false);
    expect(hits).toBe(3);
  });

  it("drops an entry once its call would pass", async () => {
    const s = open();
    const cache = createOverLimitCache({ maxEntries: 10, refusedHits: createRefusedHits() });
    // Both over limit now.
    const p = plan({ key: "a", limit: 2 }, { key: "b", limit: 2 });
    const refused = await charge(s, p, 3);
    expect(refused.admitted).toBe(false);
    cache.remember(p, refused, now);
    // Two slots later nothing is left of either counter.
    now = T0 + 2 * MINUTE;
    expect(cache.lookup(p, now)).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
