import { afterEach, describe, expect, it } from "vitest";
import { fakeTime } from "../../test/support/fake-time.ts";
import type { LeaseStore } from "../store/lease-store.ts";
import { MemoryLeaseStore } from "../store/memory-lease-store.ts";
import { createLeaseQueue, type LeaseOutcome, type LeaseQueue } from "./lease-queue.ts";

const KEY = "sluice:{tenant}:leases";
const RETRY_MS = 100;
const request = (leaseId: string, max = 2, ttlMs = 60_000) => ({ key: KEY, leaseId, max, ttlMs });

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function setUp(storeFor: (store: LeaseStore) => LeaseStore = (s) => s) {
  const time = fakeTime();
  const store = new MemoryLeaseStore({ clock: time.clock });
  const queue = (s: LeaseStore = storeFor(store)): LeaseQueue => {
    const q = createLeaseQueue({
      store: s,
      clock: time.clock,
      timers: time.timers,
      retryIntervalMs: RETRY_MS,
    });
    cleanups.push(() => q.close());
    return q;
  };
  cleanups.push(() => store.close());
  return { time, store, queue };
}

/** Tracks a promise's outcome without awaiting it, so fake time can move while it is pending. */
function track(promise: Promise<LeaseOutcome>) {
  const state: { outcome?: LeaseOutcome; error?: unknown } = {};
  promise.then(
    (outcome) => {
      state.outcome = outcome;
    },
    (error: unknown) => {
      state.error = error;
    },
  );
  return state;
}

async function fill(queue: LeaseQueue, ids: string[], max = ids.length, ttlMs = 60_000) {
  for (const id of ids)
    expect(await queue.acquire(request(id, max, ttlMs), { queueTimeoutMs: 0 })).toMatchObject({
      granted: true,
    });
}

describe("lease queue timing (injected clock and timers)", () => {
  it("grants a free slot at once, without queueing", async () => {
    const { queue } = setUp();
    expect(await queue().acquire(request("a"), { queueTimeoutMs: 500 })).toEqual({
      granted: true,
      waitedMs: 0,
      queued: false,
      held: 1,
      expired: 0,
    });
  });

  it("refuses at once when the set is full and the queue timeout is 0", async () => {
    const { queue } = setUp();
    const q = queue();
    await fill(q, ["a", "b"]);
    expect(await q.acquire(request("c"), { queueTimeoutMs: 0 })).toMatchObject({
      granted: false,
      reason: "full",
      waitedMs: 0,
      queued: false,
    });
  });

  it("waits the whole queue timeout when nothing frees, then refuses", async () => {
    const { time, queue } = setUp();
    const q = queue();
    await fill(q, ["a", "b"]);
    const waiting = track(q.acquire(request("c"), { queueTimeoutMs: 500 }));
    await time.advance(499);
    expect(waiting.outcome).toBeUndefined();
    await time.advance(1);
    expect(waiting.outcome).toEqual({
      granted: false,
      reason: "timeout",
      waitedMs: 500,
      queued: true,
      expired: 0,
    });
    expect(time.pending()).toBe(0);
  });

  it("grants the slot the moment a release arrives at this instance", async () => {
    const { time, queue } = setUp();
    const q = queue();
    await fill(q, ["a", "b"]);
    const waiting = track(q.acquire(request("c"), { queueTimeoutMs: 500 }));
    await time.advance(230);
    await q.release(KEY, "a");
    await time.settle();
    expect(waiting.outcome).toEqual({ granted: true, waitedMs: 230, queued: true, held: 2, expired: 0 });
    expect(time.pending()).toBe(0);
  });

  it("hands freed slots out in arrival order", async () => {
    const { time, queue } = setUp();
    const q = queue();
    await fill(q, ["a", "b"]);
    const first = track(q.acquire(request("c"), { queueTimeoutMs: 500 }));
    await time.advance(10);
    const second = track(q.acquire(request("d"), { queueTimeoutMs: 500 }));
    await time.advance(10);
    await q.release(KEY, "a");
    await time.settle();
    expect(first.outcome).toMatchObject({ granted: true, waitedMs: 20 });
    expect(second.outcome).toBeUndefined();
    await time.advance(30);
    await q.release(KEY, "b");
    await time.settle();
    expect(second.outcome).toMatchObject({ granted: true, waitedMs: 40 });
  });

  it("wakes a waiter at another instance through the store's release notice", async () => {
    const { time, queue } = setUp();
    const here = queue();
    const there = queue();
    await fill(here, ["a", "b"]);
    const waiting = track(there.acquire(request("c"), { queueTimeoutMs: 500 }));
    await time.advance(70);
    await here.release(KEY, "a");
    await time.settle();
    expect(waiting.outcome).toMatchObject({ granted: true, waitedMs: 70 });
  });

  it("still gets a slot within the retry interval when the notice is lost", async () => {
    const deaf = (store: LeaseStore): LeaseStore => ({
      acquire: (r) => store.acquire(r),
      release: (k, id) => store.release(k, id),
      held: (k) => store.held(k),
      onRelease: () => () => {},
      close: () => store.close(),
    });
    const { time, store, queue } = setUp();
    const here = queue(store);
    const there = queue(deaf(store));
    await fill(here, ["a", "b"]);
    const waiting = track(there.acquire(request("c"), { queueTimeoutMs: 500 }));
    await time.advance(30);
    await here.release(KEY, "a");
    await time.advance(RETRY_MS - 31);
    expect(waiting.outcome).toBeUndefined();
    await time.advance(1);
    expect(waiting.outcome).toMatchObject({ granted: true, waitedMs: RETRY_MS });
  });

  it("takes a slot when the earliest lease expires, with no release at all", async () => {
    const { time, queue } = setUp();
    const q = queue();
    await fill(q, ["lost"], 1, 1_000);
    await time.advance(950);
    const waiting = track(q.acquire(request("next", 1, 1_000), { queueTimeoutMs: 500 }));
    await time.advance(50);
    expect(waiting.outcome).toBeUndefined();
    await time.advance(1);
    expect(waiting.outcome).toEqual({ granted: true, waitedMs: 51, queued: true, held: 1, expired: 1 });
  });

  it("stops waiting when the caller cancels, and takes no lease afterwards", async () => {
    const { time, store, queue } = setUp();
    const q = queue();
    await fill(q, ["a", "b"]);
    const abort = new AbortController();
    const waiting = track(q.acquire(request("c"), { queueTimeoutMs: 500, signal: abort.signal }));
    await time.advance(100);
    abort.abort();
    await time.settle();
    expect(waiting.outcome).toMatchObject({ granted: false, reason: "cancelled", waitedMs: 100 });
    await q.release(KEY, "a");
    await time.settle();
    expect(await store.acquire(request("probe", 2))).toMatchObject({ granted: true, held: 2 });
  });

  it("gives back a lease granted just after its waiter timed out", async () => {
    const { time, store, queue } = setUp();
    // Every store call takes 10 ms, so a release at 495 is answered after the 500 ms timeout.
    const slow = (s: LeaseStore): LeaseStore => ({
      acquire: (r) => new Promise((resolve) => time.timers.after(10, () => resolve(s.acquire(r)))),
      release: (k, id) => s.release(k, id),
      held: (k) => s.held(k),
      onRelease: (listener) => s.onRelease(listener),
      close: () => s.close(),
    });
    const q = queue(slow(store));
    await store.acquire(request("a"));
    await store.acquire(request("b"));
    const waiting = track(q.acquire(request("c"), { queueTimeoutMs: 500 }));
    await time.advance(495);
    await q.release(KEY, "a");
    await time.advance(20);
    expect(waiting.outcome).toMatchObject({ granted: false, reason: "timeout" });
    expect(await store.release(KEY, "c")).toMatchObject({ released: false, held: 1 });
  });

  it("passes a failing store's error to the waiter it was asking for", async () => {
    const { time, store, queue } = setUp();
    let failing = false;
    const flaky = (s: LeaseStore): LeaseStore => ({
      acquire: (r) => (failing ? Promise.reject(new Error("store down")) : s.acquire(r)),
      release: (k, id) => s.release(k, id),
      held: (k) => s.held(k),
      onRelease: (listener) => s.onRelease(listener),
      close: () => s.close(),
    });
    const q = queue(flaky(store));
    await fill(q, ["a", "b"]);
    const waiting = track(q.acquire(request("c"), { queueTimeoutMs: 500 }));
    failing = true;
    await time.advance(RETRY_MS);
    expect(waiting.error).toBeInstanceOf(Error);
    expect(time.pending()).toBe(0);
  });

  it("passes the caller's deadline to the store call made at once, and to a release", async () => {
    const { store, queue } = setUp();
    const seen: (number | undefined)[] = [];
    const q = queue({
      acquire: (r, options) => {
        seen.push(options?.deadlineMs);
        return store.acquire(r);
      },
      release: (k, id, options) => {
        seen.push(options?.deadlineMs);
        return store.release(k, id);
      },
      held: (k) => store.held(k),
      onRelease: (listener) => store.onRelease(listener),
      close: () => store.close(),
    });
    await q.acquire(request("a"), { queueTimeoutMs: 0, deadlineMs: 1_700_000_000_750 });
    await q.release(KEY, "a", { deadlineMs: 1_700_000_000_900 });
    expect(seen).toEqual([1_700_000_000_750, 1_700_000_000_900]);
  });

  it("settles every waiter as cancelled on close", async () => {
    const { time, queue } = setUp();
    const q = queue();
    await fill(q, ["a", "b"]);
    const waiting = track(q.acquire(request("c"), { queueTimeoutMs: 500 }));
    await time.advance(5);
    q.close();
    await time.settle();
    expect(waiting.outcome).toMatchObject({ granted: false, reason: "cancelled" });
    expect(time.pending()).toBe(0);
  });
});
