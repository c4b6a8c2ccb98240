import { describe, expect, it } from "vitest";
import { fakeTime } from "../../test/support/fake-time.ts";
import { StoreError } from "./counter-store.ts";
import type { LeaseStore } from "./lease-store.ts";
import { MemoryLeaseStore } from "./memory-lease-store.ts";
import { type DroppedReleaseReason, retryFailedReleases } from "./retried-lease-releases.ts";
import { StoreGuardError } from "./store-guard.ts";

const request = (leaseId: string) => ({ key: "k", leaseId, max: 2, ttlMs: 60_000 });

/** A memory store whose releases fail transiently while `down` (or permanently, when `refuse`). */
function flakyStore(time: ReturnType<typeof fakeTime>) {
  const memory = new MemoryLeaseStore({ clock: time.clock });
  const state = { down: false, refuse: false, lateAnswer: false, releaseCalls: 0 };
  const store: LeaseStore = {
    async acquire(r, o) {
      const grant = await memory.acquire(r, o);
      // Taken, but answered after the guard stopped waiting.
      if (state.lateAnswer) throw new StoreGuardError("timeout", "no acquire reply in time");
      return grant;
    },
    release(key, leaseId) {
      state.releaseCalls++;
      if (state.refuse) return Promise.reject(new StoreError("WRONGTYPE", { transient: false }));
      if (state.down) return Promise.reject(new StoreError("paused", { transient: true }));
      return memory.release(key, leaseId);
    },
    held: (key) => memory.held(key),
    onRelease: (listener) => memory.onRelease(listener),
    close: () => memory.close(),
  };
  return { store, state };
}

function setUp(bounds: { maxPending?: number; maxAgeMs?: number } = {}) {
  const time = fakeTime();
  const { store, state } = flakyStore(time);
  const dropped: DroppedReleaseReason[] = [];
  const retried = retryFailedReleases(store, {
    clock: time.clock,
    timers: time.timers,
    retryIntervalMs: 250,
    maxPending: bounds.maxPending ?? 100,
    maxAgeMs: bounds.maxAgeMs ?? 60_000,
    onDropped: (reason) => dropped.push(reason),
  });
  return { time, state, retried, dropped };
}

describe("retryFailedReleases", () => {
  it("still fails a release the store could not take, and sends it again once the store is back", async () => {
    const { time, state, retried, dropped } = setUp();
    await retried.acquire(request("a"));
    await retried.acquire(request("b"));
    state.down = true;
    await expect(retried.release("k", "a")).rejects.toThrow("paused");
    // While down, each round costs one call, however many releases wait.
    await retried.release("k", "b").catch(() => {});
    const callsBefore = state.releaseCalls;
    await time.advance(1_000);
    expect(state.releaseCalls - callsBefore).toBe(4);
    state.down = false;
    await time.advance(250);
    // Both leases are free again: the full cap (2) is granted.
    expect((await retried.acquire(request("c"))).granted).toBe(true);
    expect((await retried.acquire(request("d"))).granted).toBe(true);
    expect(dropped).toEqual([]);
    expect(time.pending()).toBe(0);
    await retried.close();
  });

  it("gives back a lease taken by an acquire whose answer came too late for its caller", async () => {
    const { time, state, retried } = setUp();
    state.lateAnswer = true;
    await expect(retried.acquire(request("a"))).rejects.toThrow("in time");
    await expect(retried.acquire(request("b"))).rejects.toThrow("in time");
    state.lateAnswer = false;
    await time.advance(250);
    expect((await retried.acquire(request("c"))).granted).toBe(true);
    expect((await retried.acquire(request("d"))).granted).toBe(true);
    await retried.close();
  });

  it("retries at once when any call succeeds, without waiting for the timer", async () => {
    const { time, state, retried } = setUp();
    await retried.acquire(request("a"));
    await retried.acquire(request("b"));
    state.down = true;
    await retried.release("k", "a").catch(() => {});
    state.down = false;
    // A refusal is still an answer: the store is back, and the waiting release goes out.
    expect((await retried.acquire(request("c"))).granted).toBe(false);
    await time.settle();
    expect((await retried.acquire(request("c"))).granted).toBe(true);
    await retried.close();
  });

  it("counts through the store, and takes a count's answer as a sign the store is back", async () => {
    const { time, state, retried } = setUp();
    state.down = true;
    await retried.acquire(request("a"));
    await retried.release("k", "a").catch(() => {});
    state.down = false;
    // The lease is still held until the waiting release goes out, which the count's answer starts.
    expect(await retried.held("k")).toBe(1);
    await time.settle();
    expect(await retried.held("k")).toBe(0);
    await retried.close();
  });

  it("drops, and reports, releases beyond its bounds: too many waiting, too old, or refused by the store", async () => {
    const { time, state, retried, dropped } = setUp({ maxPending: 2, maxAgeMs: 1_000 });
    state.down = true;
    for (const id of ["a", "b", "c"]) await retried.release("k", id).catch(() => {});
    expect(dropped).toEqual(["full"]);
    await time.advance(1_500);
    expect(dropped).toEqual(["full", "age", "age"]);
    expect(time.pending()).toBe(0);

    state.refuse = true;
    await expect(retried.release("k", "d")).rejects.toThrow("WRONGTYPE");
    await time.advance(500);
    // A permanent refusal is not kept: sending it again would be refused again.
    expect(dropped).toEqual(["full", "age", "age"]);
    state.refuse = false;
    await retried.release("k", "e").catch(() => {});
    state.refuse = true;
    await time.advance(250);
    expect(dropped).toEqual(["full", "age", "age", "rejected"]);
    await retried.close();
  });

  it("forgets waiting releases and stops its timer on close", async () => {
    const { time, state, retried } = setUp();
    state.down = true;
    await retried.release("k", "a").catch(() => {});
    expect(time.pending()).toBe(1);
    await retried.close();
    expect(time.pending()).toBe(0);
  });
});
