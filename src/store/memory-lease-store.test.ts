import { describe, expect, it } from "vitest";
import { MemoryLeaseStore } from "./memory-lease-store.ts";

function store(startMs = 1_000_000) {
  let now = startMs;
  const leases = new MemoryLeaseStore({ clock: () => now });
  return {
    leases,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const request = (leaseId: string, max = 2, ttlMs = 1_000) => ({ key: "set", leaseId, max, ttlMs });

describe("MemoryLeaseStore lease bookkeeping", () => {
  it("grants up to max, refuses beyond, and says when the earliest lease expires", async () => {
    const { leases, advance } = store();
    expect(await leases.acquire(request("a"))).toEqual({
      granted: true,
      held: 1,
      expired: 0,
      nextExpiryMs: undefined,
    });
    advance(100);
    expect(await leases.acquire(request("b"))).toMatchObject({ granted: true, held: 2 });
    expect(await leases.acquire(request("c"))).toEqual({
      granted: false,
      held: 2,
      expired: 0,
      nextExpiryMs: 900,
    });
    await leases.close();
  });

  it("renews a lease its holder asks for again, counting it once", async () => {
    const { leases, advance } = store();
    await leases.acquire(request("a", 1));
    advance(800);
    expect(await leases.acquire(request("a", 1))).toMatchObject({ granted: true, held: 1 });
    advance(800);
    // Renewed at +800 for 1000 ms: still held at +1600.
    expect(await leases.acquire(request("b", 1))).toMatchObject({ granted: false, nextExpiryMs: 200 });
    await leases.close();
  });

  it("frees a slot on release; a second release or an unknown id changes nothing", async () => {
    const { leases } = store();
    await leases.acquire(request("a", 1));
    expect(await leases.release("set", "never-granted")).toEqual({ released: false, held: 1, expired: 0 });
    expect(await leases.release("set", "a")).toEqual({ released: true, held: 0, expired: 0 });
    expect(await leases.release("set", "a")).toEqual({ released: false, held: 0, expired: 0 });
    expect(await leases.acquire(request("b", 1))).toMatchObject({ granted: true, held: 1 });
    await leases.close();
  });

  it("reclaims a lease whose release never came once its ttl has passed, counting it as expired", async () => {
    const { leases, advance } = store();
    await leases.acquire(request("lost", 1, 500));
    advance(499);
    expect(await leases.acquire(request("next", 1, 500))).toMatchObject({ granted: false, nextExpiryMs: 1 });
    advance(1);
    expect(await leases.acquire(request("next", 1, 500))).toEqual({
      granted: true,
      held: 1,
      expired: 1,
      nextExpiryMs: undefined,
    });
    await leases.close();
  });

  it("counts unexpired leases without reclaiming the expired ones or telling listeners", async () => {
    const { leases, advance } = store();
    const heard: string[] = [];
    leases.onRelease((key) => heard.push(key));
    await leases.acquire(request("lost", 2, 500));
    await leases.acquire(request("a", 2, 1_000));
    expect(await leases.held("set")).toBe(2);
    advance(500);
    expect(await leases.held("set")).toBe(1);
    await Promise.resolve();
    expect(heard).toEqual([]);
    // Still in the set: the next real call reclaims and reports it.
    expect(await leases.release("set", "a")).toEqual({ released: true, held: 0, expired: 1 });
    expect(await leases.held("unknown")).toBe(0);
    await leases.close();
  });

  it("keeps sets apart", async () => {
    const { leases } = store();
    await leases.acquire({ ...request("a", 1), key: "tenant-a" });
    expect(await leases.acquire({ ...request("b", 1), key: "tenant-b" })).toMatchObject({ granted: true });
    expect(await leases.release("tenant-b", "a")).toMatchObject({ released: false, held: 1 });
    await leases.close();
  });

  it("tells listeners of releases and reclaimed expiries, not of refusals", async () => {
    const { leases, advance } = store();
    const heard: string[] = [];
    const stop = leases.onRelease((key) => heard.push(key));
    await leases.acquire(request("a", 1, 100));
    await leases.acquire(request("b", 1, 100));
    await leases.release("set", "unknown");
    await Promise.resolve();
    expect(heard).toEqual([]);
    await leases.release("set", "a");
    await Promise.resolve();
    expect(heard).toEqual(["set"]);
    await leases.acquire(request("c", 1, 100));
    advance(100);
    await leases.acquire({ ...request("d", 1, 100) });
    await Promise.resolve();
    expect(heard).toEqual(["set", "set"]);
    stop();
    await leases.release("set", "d");
    await Promise.resolve();
    expect(heard).toHaveLength(2);
    await leases.close();
  });

  it("keeps a set one more ttl past its latest lease, then drops it whole, leftovers unreported", async () => {
    const { leases, advance } = store();
    await leases.acquire({ ...request("a"), key: "idle" });
    await leases.acquire({ ...request("b", 2, 5_000), key: "busy" });
    advance(1_999);
    leases.sweep();
    expect(leases.size).toBe(2);
    advance(1);
    leases.sweep();
    expect(leases.size).toBe(1);
    expect(await leases.release("idle", "x")).toEqual({ released: false, held: 0, expired: 0 });
    await leases.close();
  });
});
