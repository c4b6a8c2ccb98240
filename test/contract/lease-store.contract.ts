import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { counterKey } from "../../src/store/counter-key.ts";
import { type LeaseStore, leaseKey } from "../../src/store/lease-store.ts";

/**
 * What every LeaseStore must answer, whatever its backend. Each test uses a fresh lease set.
 * `store` and `peer` share their leases: two handles on one Redis (two Sluice instances), or the
 * same memory store twice.
 */
export interface LeaseStoreUnderTest {
  readonly store: LeaseStore;
  readonly peer: LeaseStore;
  /** Lets `ms` milliseconds pass: advances a fake clock, or sleeps against a real one. */
  wait(ms: number): Promise<void>;
  /** The store's clock, in ms since the epoch, as a caller's deadline is given. */
  now(): number;
  close(): Promise<void>;
}

const freshSet = () => leaseKey(counterKey(`contract:${randomUUID()}`));

/** Resolves with the keys a store's listeners heard until `until` holds, or fails after 2 s. */
async function hear(store: LeaseStore, act: () => Promise<unknown>, until: (keys: string[]) => boolean) {
  const heard: string[] = [];
  const stop = store.onRelease((key) => heard.push(key));
  try {
    await act();
    const deadline = Date.now() + 2_000;
    while (!until(heard) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    return heard;
  } finally {
    stop();
  }
}

export function leaseStoreContract(open: () => Promise<LeaseStoreUnderTest>): void {
  let target: LeaseStoreUnderTest;
  beforeAll(async () => {
    target = await open();
  });
  afterAll(async () => {
    await target?.close();
  });

  it("grants up to max, refuses beyond, and says how long until the earliest lease expires", async () => {
    const key = freshSet();
    const request = (leaseId: string) => ({ key, leaseId, max: 3, ttlMs: 60_000 });
    const answers = [];
    for (const id of ["a", "b", "c", "d"]) answers.push(await target.store.acquire(request(id)));
    expect(answers.map((a) => [a.granted, a.held])).toEqual([
      [true, 1],
      [true, 2],
      [true, 3],
      [false, 3],
    ]);
    expect(answers[0]?.nextExpiryMs).toBeUndefined();
    expect(answers[3]?.nextExpiryMs).toBeGreaterThan(55_000);
    expect(answers[3]?.nextExpiryMs).toBeLessThanOrEqual(60_000);
  });

  it("refuses, as late, an acquire that runs once the caller's deadline has passed", async () => {
    const key = freshSet();
    const request = (leaseId: string) => ({ key, leaseId, max: 3, ttlMs: 60_000 });
    const deadlineMs = target.now() + 200;
    expect((await target.store.acquire(request("a"), { deadlineMs })).granted).toBe(true);
    await target.wait(300);
    expect(await target.store.acquire(request("b"), { deadlineMs })).toMatchObject({
      granted: false,
      held: 1,
      late: true,
    });
    // Not even a lease already held is renewed for a call that has given up.
    expect(await target.store.acquire(request("a"), { deadlineMs })).toMatchObject({ granted: false });
    expect((await target.store.acquire(request("c"))).granted).toBe(true);
  });

  it("renews a lease asked for again, counting it once", async () => {
    const key = freshSet();
    expect(await target.store.acquire({ key, leaseId: "a", max: 1, ttlMs: 60_000 })).toMatchObject({
      granted: true,
    });
    expect(await target.peer.acquire({ key, leaseId: "a", max: 1, ttlMs: 60_000 })).toMatchObject({
      granted: true,
      held: 1,
    });
    expect(await target.store.acquire({ key, leaseId: "b", max: 1, ttlMs: 60_000 })).toMatchObject({
      granted: false,
    });
  });

  it("frees a slot on release, wherever it arrives; unknown ids and second releases change nothing", async () => {
    const key = freshSet();
    await target.store.acquire({ key, leaseId: "a", max: 1, ttlMs: 60_000 });
    expect(await target.peer.release(key, "refused-request")).toEqual({
      released: false,
      held: 1,
      expired: 0,
    });
    expect(await target.peer.release(key, "a")).toEqual({ released: true, held: 0, expired: 0 });
    expect(await target.store.release(key, "a")).toEqual({ released: false, held: 0, expired: 0 });
    expect(await target.store.acquire({ key, leaseId: "b", max: 1, ttlMs: 60_000 })).toMatchObject({
      granted: true,
      held: 1,
    });
  });

  it("reclaims a lease whose release never came after its ttl, and reports it expired", async () => {
    const key = freshSet();
    await target.store.acquire({ key, leaseId: "lost", max: 1, ttlMs: 300 });
    const refused = await target.peer.acquire({ key, leaseId: "next", max: 1, ttlMs: 300 });
    expect(refused.granted).toBe(false);
    expect(refused.nextExpiryMs).toBeLessThanOrEqual(300);
    await target.wait(350);
    expect(await target.peer.acquire({ key, leaseId: "next", max: 1, ttlMs: 300 })).toEqual({
      granted: true,
      held: 1,
      expired: 1,
      nextExpiryMs: undefined,
    });
    await target.wait(350);
    expect(await target.store.release(key, "next")).toEqual({ released: false, held: 0, expired: 1 });
  });

  it("counts the unexpired leases, from any handle, without removing or renewing anything", async () => {
    const key = freshSet();
    expect(await target.store.held(key)).toBe(0);
    await target.store.acquire({ key, leaseId: "a", max: 3, ttlMs: 60_000 });
    await target.store.acquire({ key, leaseId: "b", max: 3, ttlMs: 60_000 });
    await target.store.acquire({ key, leaseId: "lost", max: 3, ttlMs: 300 });
    expect(await target.store.held(key)).toBe(3);
    expect(await target.peer.held(key)).toBe(3);
    await target.wait(350);
    // The lost lease no longer counts, but counting left it in the set: the next call removes it.
    expect(await target.peer.held(key)).toBe(2);
    expect(await target.store.held(key)).toBe(2);
    expect(await target.store.release(key, "a")).toEqual({ released: true, held: 1, expired: 1 });
    expect(await target.peer.held(key)).toBe(1);
    expect(await target.store.held(freshSet())).toBe(0);
  });

  it("keeps lease sets apart", async () => {
    const [one, two] = [freshSet(), freshSet()];
    await target.store.acquire({ key: one, leaseId: "a", max: 1, ttlMs: 60_000 });
    expect(await target.store.acquire({ key: two, leaseId: "b", max: 1, ttlMs: 60_000 })).toMatchObject({
      granted: true,
    });
    expect(await target.store.release(two, "a")).toMatchObject({ released: false, held: 1 });
  });

  it("never grants more than max to concurrent acquires from two handles", async () => {
    const key = freshSet();
    const attempts = Array.from({ length: 60 }, (_, n) =>
      (n % 2 === 0 ? target.store : target.peer).acquire({ key, leaseId: `r${n}`, max: 10, ttlMs: 60_000 }),
    );
    const answers = await Promise.all(attempts);
    expect(answers.filter((a) => a.granted)).toHaveLength(10);
    expect(Math.max(...answers.map((a) => a.held))).toBe(10);
  });

  it("tells listeners on every handle of a release, whichever handle it came through", async () => {
    const key = freshSet();
    await target.store.acquire({ key, leaseId: "a", max: 1, ttlMs: 60_000 });
    const heard = await hear(
      target.store,
      () => target.peer.release(key, "a"),
      (keys) => keys.includes(key),
    );
    expect(heard).toContain(key);
  });
}
