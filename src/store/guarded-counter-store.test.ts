import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ChargeResult, type CounterStore, type DescriptorCharge, StoreError } from "./counter-store.ts";
import { guardCounterStore } from "./guarded-counter-store.ts";
import { StoreGuardError } from "./store-guard.ts";

interface Pending {
  descriptors: readonly DescriptorCharge[];
  resolve(result: ChargeResult): void;
  reject(error: unknown): void;
}

/** A store whose charges settle only when the test says so. */
function controlledStore() {
  const pending: Pending[] = [];
  const store: CounterStore = {
    charge: (descriptors) =>
      new Promise<ChargeResult>((resolve, reject) => pending.push({ descriptors, resolve, reject })),
    peek: (descriptors) =>
      Promise.resolve({ nowMs: 0, counts: descriptors.map((d) => d.windows.map(() => ZERO)) }),
    addHits: () => Promise.resolve(),
    ping: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return { store, pending };
}

const ZERO = { current: 0, previous: 0 };

const charge = (counterKey: string): DescriptorCharge => ({
  counterKey,
  mode: "enforced",
  cost: 1,
  countRejected: true,
  windows: [{ windowMs: 1000, limit: 10 }],
});
const RESULT: ChargeResult = {
  nowMs: 0,
  admitted: true,
  counts: [[{ current: 1, previous: 0, passed: true }]],
};
const down = () => new StoreError("redis: connection closed", { transient: true });

describe("guardCounterStore", () => {
  beforeEach(() => {
    // setImmediate stays real: the guard defers its timeout to it, past the I/O phase.
    vi.useFakeTimers({ now: 1_000_000, toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const guard = (store: CounterStore, extra: Partial<Parameters<typeof guardCounterStore>[1]> = {}) =>
    guardCounterStore(store, {
      timeoutMs: 50,
      maxInFlight: 3,
      failureThreshold: 2,
      openMs: 250,
      clock: () => Date.now(),
      ...extra,
    });

  it("passes results and store errors through", async () => {
    const { store, pending } = controlledStore();
    const guarded = guard(store);
    const ok = guarded.charge([charge("a")]);
    pending[0]?.resolve(RESULT);
    await expect(ok).resolves.toBe(RESULT);
    const failed = guarded.charge([charge("a")]);
    pending[1]?.reject(down());
    await expect(failed).rejects.toThrow("connection closed");
  });

  it("guards a peek like a charge: results through, refused once the deadline has passed", async () => {
    const { store } = controlledStore();
    const guarded = guard(store);
    await expect(guarded.peek([charge("a")])).resolves.toEqual({ nowMs: 0, counts: [[ZERO]] });
    await expect(guarded.peek([charge("a")], { deadlineMs: Date.now() - 1 })).rejects.toMatchObject({
      reason: "timeout",
      transient: true,
    });
  });

  it("stops waiting after the timeout with a transient timeout error", async () => {
    const { store } = controlledStore();
    const answer = guard(store).charge([charge("a")]);
    const caught = answer.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    const error = await caught;
    expect(error).toBeInstanceOf(StoreGuardError);
    expect(error).toMatchObject({ reason: "timeout", transient: true });
  });

  it("waits no longer than the call's own deadline", async () => {
    const { store } = controlledStore();
    const caught = guard(store)
      .charge([charge("a")], { deadlineMs: Date.now() + 10 })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(await caught).toMatchObject({ reason: "timeout" });
  });

  it("does not ask the store at all once the call's deadline has passed", async () => {
    const { store, pending } = controlledStore();
    await expect(guard(store).charge([charge("a")], { deadlineMs: Date.now() })).rejects.toMatchObject({
      reason: "timeout",
    });
    expect(pending).toHaveLength(0);
  });

  it("sheds calls beyond the in-flight bound, counting timed-out charges until the store settles them", async () => {
    const { store, pending } = controlledStore();
    const guarded = guard(store);
    const waiting = [1, 2, 3].map(() => guarded.charge([charge("a")]).catch((e: unknown) => e));
    await vi.advanceTimersByTimeAsync(50);
    for (const w of waiting) expect(await w).toMatchObject({ reason: "timeout" });
    // The three are still outstanding in the store: no room for a fourth.
    await expect(guarded.charge([charge("a")])).rejects.toMatchObject({ reason: "overloaded" });
    expect(pending).toHaveLength(3);
    pending[0]?.resolve(RESULT);
    await vi.advanceTimersByTimeAsync(0);
    const next = guarded.charge([charge("a")]);
    expect(pending).toHaveLength(4);
    pending[3]?.resolve(RESULT);
    await expect(next).resolves.toBe(RESULT);
  });

  it("opens the circuit after consecutive failures, answers at once, then probes and recovers", async () => {
    const { store, pending } = controlledStore();
    const changes: string[] = [];
    const guarded = guard(store, { onCircuitChange: (p, from, to) => changes.push(`${p}:${from}->${to}`) });
    for (let i = 0; i < 2; i++) {
      const failed = guarded.charge([charge("a")]);
      pending[i]?.reject(down());
      await expect(failed).rejects.toThrow();
    }
    expect(guarded.openCircuits()).toBe(1);
    await expect(guarded.charge([charge("a")])).rejects.toMatchObject({ reason: "circuit_open" });
    expect(pending).toHaveLength(2);

    await vi.advanceTimersByTimeAsync(250);
    const probe = guarded.charge([charge("a")]);
    // Only the probe goes through while it is out.
    await expect(guarded.charge([charge("a")])).rejects.toMatchObject({ reason: "circuit_open" });
    pending[2]?.resolve(RESULT);
    await expect(probe).resolves.toBe(RESULT);
    expect(guarded.openCircuits()).toBe(0);
    const after = guarded.charge([charge("a")]);
    pending[3]?.resolve(RESULT);
    await expect(after).resolves.toBe(RESULT);
    expect(changes).toEqual([":closed->open", ":open->half-open", ":half-open->closed"]);
  });

  it("opens the circuit on silence only: timeouts while the store answers other calls are local queueing", async () => {
    const { store, pending } = controlledStore();
    const guarded = guard(store, { maxInFlight: 10 });
    // Four calls queued together; the store answers the last one while the others wait.
    const waiting = [1, 2, 3, 4].map(() => guarded.charge([charge("a")]).catch((e: unknown) => e));
    pending[3]?.resolve(RESULT);
    await vi.advanceTimersByTimeAsync(50);
    for (const w of waiting.slice(0, 3)) expect(await w).toMatchObject({ reason: "timeout" });
    expect(guarded.openCircuits()).toBe(0);
    // Later, two calls time out with nothing answered since they were sent: that is evidence.
    const silent = [1, 2].map(() => guarded.charge([charge("a")]).catch((e: unknown) => e));
    await vi.advanceTimersByTimeAsync(50);
    for (const w of silent) expect(await w).toMatchObject({ reason: "timeout" });
    expect(guarded.openCircuits()).toBe(1);
    // The late failures of calls already counted do not count again, and a late answer closes it.
    pending[4]?.reject(down());
    pending[0]?.resolve(RESULT);
    await vi.advanceTimersByTimeAsync(0);
    expect(guarded.openCircuits()).toBe(0);
  });

  it("does not count a call that timed out on a sliver of its deadline against the store", async () => {
    const { store, pending } = controlledStore();
    const guarded = guard(store, { maxInFlight: 10, timeoutMs: 200 });
    // Two calls left only 20 ms of their deadlines: their timeouts prove nothing about the store.
    const short = [1, 2].map(() =>
      guarded.charge([charge("a")], { deadlineMs: Date.now() + 20 }).catch((e: unknown) => e),
    );
    await vi.advanceTimersByTimeAsync(20);
    for (const w of short) expect(await w).toMatchObject({ reason: "timeout" });
    expect(guarded.openCircuits()).toBe(0);
    // The store's own answer still decides: a failure after that long silence counts.
    pending[0]?.reject(down());
    pending[1]?.reject(down());
    await vi.advanceTimersByTimeAsync(0);
    expect(guarded.openCircuits()).toBe(1);
  });

  it("counts an error reply as a reachable store, not as a failure", async () => {
    const { store, pending } = controlledStore();
    const guarded = guard(store);
    for (let i = 0; i < 3; i++) {
      const failed = guarded.charge([charge("a")]);
      pending[i]?.reject(new StoreError("redis: WRONGTYPE", { transient: false }));
      await expect(failed).rejects.toThrow("WRONGTYPE");
    }
    expect(guarded.openCircuits()).toBe(0);
  });

  it("counts a transient refusal from a reachable node (a slot being migrated) as no failure", async () => {
    const { store, pending } = controlledStore();
    const guarded = guard(store);
    for (let i = 0; i < 3; i++) {
      const failed = guarded.charge([charge("a")]);
      pending[i]?.reject(new StoreError("redis: non local key", { transient: true, reachable: true }));
      await expect(failed).rejects.toMatchObject({ transient: true });
    }
    expect(guarded.openCircuits()).toBe(0);
  });

  it("keeps one circuit per partition, so one dead node leaves the others working", async () => {
    const { store, pending } = controlledStore();
    const guarded = guard(store, { partitionOf: (key) => (key.startsWith("dead") ? "node-1" : "node-2") });
    for (let i = 0; i < 2; i++) {
      const failed = guarded.charge([charge("dead-key")]);
      pending[i]?.reject(down());
      await expect(failed).rejects.toThrow();
    }
    await expect(guarded.charge([charge("dead-key")])).rejects.toMatchObject({ reason: "circuit_open" });
    // A call touching the open partition and a healthy one is answered without the store too.
    await expect(guarded.charge([charge("ok-key"), charge("dead-key")])).rejects.toMatchObject({
      reason: "circuit_open",
    });
    const healthy = guarded.charge([charge("ok-key")]);
    pending[2]?.resolve(RESULT);
    await expect(healthy).resolves.toBe(RESULT);
    expect(guarded.openCircuits()).toBe(1);
  });

  it("releases a probe slot it took when another partition of the call refuses", async () => {
    const { store, pending } = controlledStore();
    const guarded = guard(store, { partitionOf: (key) => key });
    for (const key of ["a", "a", "b", "b"]) {
      const failed = guarded.charge([charge(key)]);
      pending.at(-1)?.reject(down());
      await expect(failed).rejects.toThrow();
    }
    await vi.advanceTimersByTimeAsync(250);
    // Both are half-open now; "b"'s probe fails, so "b" is open again while "a" still has its probe.
    const probeB = guarded.charge([charge("b")]);
    pending.at(-1)?.reject(down());
    await expect(probeB).rejects.toThrow();
    await expect(guarded.charge([charge("a"), charge("b")])).rejects.toMatchObject({
      reason: "circuit_open",
    });
    // "a"'s probe slot was given back: a call for "a" alone still probes.
    const probeA = guarded.charge([charge("a")]);
    pending.at(-1)?.resolve(RESULT);
    await expect(probeA).resolves.toBe(RESULT);
  });

  it("bounds ping by the timeout", async () => {
    const store: CounterStore = { ...controlledStore().store, ping: () => new Promise<void>(() => {}) };
    const caught = guard(store)
      .ping()
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await caught).toMatchObject({ reason: "timeout" });
  });

  it("takes a reply that arrived while the event loop was blocked past the timeout", async () => {
    vi.useRealTimers();
    // An echo server in another process stands in for Redis: it replies while this loop is blocked.
    const echo = spawn(process.execPath, [
      "-e",
      "require('net').createServer((s) => s.pipe(s)).listen(0, '127.0.0.1', function () { console.log(this.address().port) })",
    ]);
    const [line] = (await once(echo.stdout, "data")) as [Buffer];
    const socket = connect(Number(line.toString()), "127.0.0.1");
    socket.on("error", () => {});
    await once(socket, "connect");
    const store: CounterStore = {
      charge: () =>
        new Promise((resolve) => {
          socket.once("data", () => resolve(RESULT));
          socket.write("charge");
        }),
      peek: () => Promise.resolve({ nowMs: 0, counts: [] }),
      addHits: () => Promise.resolve(),
      ping: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    try {
      const answer = guard(store, { timeoutMs: 20 }).charge([charge("a")]);
      const blockedUntil = Date.now() + 100;
      while (Date.now() < blockedUntil) {
        // Busy: neither the timer nor the reply can run until this ends.
      }
      await expect(answer).resolves.toBe(RESULT);
    } finally {
      socket.destroy();
      echo.kill();
    }
  });
});
