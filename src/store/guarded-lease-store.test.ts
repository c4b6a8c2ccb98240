import { describe, expect, it } from "vitest";
import { StoreError } from "./counter-store.ts";
import { type GuardedLeaseStoreOptions, guardLeaseStore } from "./guarded-lease-store.ts";
import type { LeaseGrant, LeaseRelease, LeaseStore } from "./lease-store.ts";
import { MemoryLeaseStore } from "./memory-lease-store.ts";
import { StoreGuardError } from "./store-guard.ts";

const request = { key: "sluice:{t}:leases", leaseId: "r1", max: 1, ttlMs: 60_000 };

/** A store that never answers, as a SIGSTOPped Redis does not. */
const silent: LeaseStore = {
  acquire: () => new Promise(() => {}),
  release: () => new Promise(() => {}),
  held: () => new Promise(() => {}),
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
    const guarded = guardLeaseStore(memory, { timeoutMs: 1_000, maxInFlight: 8, clock: Date.now });
    expect(await guarded.acquire(request)).toMatchObject({ granted: true, held: 1 });
    expect(await guarded.release(request.key, request.leaseId)).toMatchObject({ released: true, held: 0 });
    expect(await guarded.held(request.key)).toBe(0);
    await guarded.close();
  });

  it("gives up on an acquire or a release after the store timeout, as a transient timeout", async () => {
    const guarded = guardLeaseStore(silent, { timeoutMs: 20, maxInFlight: 8, clock: Date.now });
    const acquire = await rejection(guarded.acquire(request));
    expect(acquire).toMatchObject({ reason: "timeout", transient: true });
    expect(acquire.message).toMatch(/^lease store: no acquire reply in time/);
    expect(await rejection(guarded.release(request.key, request.leaseId))).toMatchObject({
      reason: "timeout",
      transient: true,
    });
  });

  it("gives up on a count as on any lease call, within the caller's deadline", async () => {
    const guarded = guardLeaseStore(silent, { timeoutMs: 60_000, maxInFlight: 8, clock: Date.now });
    const error = await rejection(guarded.held(request.key, { deadlineMs: Date.now() + 20 }));
    expect(error).toMatchObject({ reason: "timeout", transient: true });
    expect(error.message).toMatch(/^lease store: no count reply in time/);
  });

  it("waits no longer than the call's deadline when it is nearer than the timeout", async () => {
    const guarded = guardLeaseStore(silent, { timeoutMs: 60_000, maxInFlight: 8, clock: Date.now });
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
    const guarded = guardLeaseStore(counting, { timeoutMs: 50, maxInFlight: 8, clock: () => 5_000 });
    const error = await rejection(guarded.acquire(request, { deadlineMs: 5_000 }));
    expect(error.message).toMatch(/deadline has passed/);
    expect(calls).toBe(0);
  });

  describe("in-flight bound and circuit breaker", () => {
    interface Pending {
      readonly key: string;
      resolve(value: Answer): void;
      reject(error: unknown): void;
    }
    /** One answer that serves as an acquire's and as a release's. */
    type Answer = LeaseGrant & LeaseRelease;
    const GRANT: Answer = { granted: true, released: true, held: 1, expired: 0 };
    const down = () => new StoreError("redis: connection closed", { transient: true });

    /** Calls settle only when the test says so; the clock moves only when the test moves it. */
    function setup(extra: Partial<GuardedLeaseStoreOptions> = {}) {
      const pending: Pending[] = [];
      const call = (key: string) =>
        new Promise<Answer>((resolve, reject) => pending.push({ key, resolve, reject }));
      const store: LeaseStore = {
        acquire: (r) => call(r.key),
        release: (key) => call(key),
        held: (key) => call(key).then(() => 0),
        onRelease: () => () => {},
        close: () => Promise.resolve(),
      };
      const clock = { now: 10_000 };
      const changes: string[] = [];
      const guarded = guardLeaseStore(store, {
        timeoutMs: 60_000,
        maxInFlight: 2,
        failureThreshold: 3,
        openMs: 250,
        clock: () => clock.now,
        onCircuitChange: (partition, from, to) => changes.push(`${partition}:${from}->${to}`),
        ...extra,
      });
      /** Fails `n` acquires of `key` with a transient error. */
      const fail = async (n: number, key = request.key) => {
        for (let i = 0; i < n; i++) {
          const failed = guarded.acquire({ ...request, key });
          pending.at(-1)?.reject(down());
          await expect(failed).rejects.toThrow("connection closed");
        }
      };
      return { guarded, pending, clock, changes, fail };
    }

    it("sheds acquires and releases beyond the in-flight bound at once, as a transient overload", async () => {
      const { guarded, pending } = setup();
      const first = guarded.acquire(request);
      const second = guarded.release(request.key, "r0");
      const shed = await rejection(guarded.acquire({ ...request, leaseId: "r2" }));
      expect(shed).toMatchObject({ reason: "overloaded", transient: true });
      expect(shed.message).toMatch(/^lease store: 2 calls in flight/);
      expect(await rejection(guarded.release(request.key, "r3"))).toMatchObject({ reason: "overloaded" });
      expect(pending).toHaveLength(2);
      // One settles: there is room again.
      pending[0]?.resolve(GRANT);
      await expect(first).resolves.toBe(GRANT);
      const third = guarded.acquire(request);
      expect(pending).toHaveLength(3);
      pending[1]?.resolve(GRANT);
      pending[2]?.resolve(GRANT);
      await Promise.all([second, third]);
    });

    it("opens after consecutive transient failures and then refuses at once without asking the store", async () => {
      const { guarded, pending, changes, fail } = setup();
      await fail(2);
      expect(guarded.openCircuits()).toBe(0);
      await fail(1);
      expect(guarded.openCircuits()).toBe(1);
      expect(changes).toEqual([":closed->open"]);
      const refused = await rejection(guarded.acquire(request));
      expect(refused).toMatchObject({ reason: "circuit_open", transient: true });
      expect(refused.message).toMatch(/^lease store: circuit open/);
      expect(await rejection(guarded.release(request.key, "r1"))).toMatchObject({ reason: "circuit_open" });
      expect(pending).toHaveLength(3);
    });

    it("lets one probe through after the open period and closes when it succeeds", async () => {
      const { guarded, pending, clock, changes, fail } = setup();
      await fail(3);
      clock.now += 250;
      const probe = guarded.acquire(request);
      expect(pending).toHaveLength(4);
      // Only the probe goes to the store while it is out.
      expect(await rejection(guarded.release(request.key, "r1"))).toMatchObject({ reason: "circuit_open" });
      pending[3]?.resolve(GRANT);
      await expect(probe).resolves.toBe(GRANT);
      expect(guarded.openCircuits()).toBe(0);
      expect(changes).toEqual([":closed->open", ":open->half-open", ":half-open->closed"]);
      const after = guarded.release(request.key, "r1");
      expect(pending).toHaveLength(5);
      pending[4]?.resolve(GRANT);
      await expect(after).resolves.toBe(GRANT);
    });

    it("opens again when the probe fails", async () => {
      const { guarded, clock, changes, fail } = setup();
      await fail(3);
      clock.now += 250;
      await fail(1);
      expect(changes).toEqual([":closed->open", ":open->half-open", ":half-open->open"]);
      expect(await rejection(guarded.acquire(request))).toMatchObject({ reason: "circuit_open" });
    });

    it("counts an error reply as a reachable store, not as a failure", async () => {
      const { guarded, pending } = setup();
      for (let i = 0; i < 4; i++) {
        const failed = guarded.acquire(request);
        pending.at(-1)?.reject(new StoreError("redis: script error", { transient: false }));
        await expect(failed).rejects.toThrow("script error");
      }
      expect(guarded.openCircuits()).toBe(0);
    });

    it("keeps one circuit per Redis node, found from the lease key", async () => {
      const { guarded, pending, changes, fail } = setup({
        partitionOf: (key) => (key.includes("{dead}") ? "node-1" : "node-2"),
      });
      await fail(3, "sluice:{dead}:leases");
      expect(await rejection(guarded.acquire({ ...request, key: "sluice:{dead}:leases" }))).toMatchObject({
        reason: "circuit_open",
      });
      const healthy = guarded.acquire(request);
      pending.at(-1)?.resolve(GRANT);
      await expect(healthy).resolves.toBe(GRANT);
      expect(guarded.openCircuits()).toBe(1);
      expect(changes).toEqual(["node-1:closed->open"]);
    });
  });
});
