import { describe, expect, it } from "vitest";
import { StoreGuardError } from "./guarded-counter-store.ts";
import { guardLeaseStore } from "./guarded-lease-store.ts";
import type { LeaseStore } from "./lease-store.ts";
import { MemoryLeaseStore } from "./memory-lease-store.ts";

const request = { key: "sluice:{t}:leases", leaseId: "r1", max: 1, ttlMs: 60_000 };

/** A store that never answers, as a SIGSTOPped Redis does not. */
const silent: LeaseStore = {
  acquire: () => new Promise(() => {}),
  release: () => new Promise(() => {}),
  onRelease: () => () => {},
  close: () => Promise.resolve(),
};

async function rejection(promise: Promise<unknown>): Promise<StoreGuardError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreGuardError);
  return error as StoreGuardError;
}

describe("guardLeaseStore", () => {
  it("passes answers through", async () => {
    const memory = new MemoryLeaseStore({ clock: () => 1_000 });
    const guarded = guardLeaseStore(memory, { timeoutMs: 1_000, clock: Date.now });
    expect(await guarded.acquire(request)).toMatchObject({ granted: true, held: 1 });
    expect(await guarded.release(request.key, request.leaseId)).toMatchObject({ released: true, held: 0 });
    await guarded.close();
  });

  it("gives up on an acquire or a release after the store timeout, as a transient timeout", async () => {
    const guarded = guardLeaseStore(silent, { timeoutMs: 20, clock: Date.now });
    const acquire = await rejection(guarded.acquire(request));
    expect(acquire).toMatchObject({ reason: "timeout", transient: true });
    expect(acquire.message).toMatch(/^lease store: no acquire reply in time/);
    expect(await rejection(guarded.release(request.key, request.leaseId))).toMatchObject({
      reason: "timeout",
      transient: true,
    });
  });

  it("waits no longer than the call's deadline when it is nearer than the timeout", async () => {
    const guarded = guardLeaseStore(silent, { timeoutMs: 60_000, clock: Date.now });
    // Without the deadline this would wait a minute and time the test out.
    const error = await rejection(guarded.acquire(request, { deadlineMs: Date.now() + 20 }));
    expect(error.reason).toBe("timeout");
  });

  it("does not call the store at all once the deadline has passed", async () => {
    let calls = 0;
    const counting: LeaseStore = {
      ...silent,
      acquire: () => {
        calls++;
        return new Promise(() => {});
      },
    };
    const guarded = guardLeaseStore(counting, { timeoutMs: 50, clock: () => 5_000 });
    const error = await rejection(guarded.acquire(request, { deadlineMs: 5_000 }));
    expect(error.message).toMatch(/deadline has passed/);
    expect(calls).toBe(0);
  });
});
