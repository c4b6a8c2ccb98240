import { describe, expect, it } from "vitest";
import { lazyLeaseStore } from "./lazy-lease-store.ts";
import { MemoryLeaseStore } from "./memory-lease-store.ts";

describe("lazyLeaseStore", () => {
  it("creates the store on the first call only, and passes its release notices to listeners added before", async () => {
    let created = 0;
    const lazy = lazyLeaseStore(() => {
      created++;
      return new MemoryLeaseStore({ clock: () => 1_000 });
    });
    const heard: string[] = [];
    lazy.onRelease((key) => heard.push(key));
    expect(created).toBe(0);
    await lazy.acquire({ key: "k", leaseId: "a", max: 1, ttlMs: 1_000 });
    expect(await lazy.release("k", "a")).toMatchObject({ released: true });
    await Promise.resolve();
    expect(created).toBe(1);
    expect(heard).toEqual(["k"]);
    await lazy.close();
  });

  it("opens the store to count, since a shared store may hold other instances' leases", async () => {
    const shared = new MemoryLeaseStore({ clock: () => 1_000 });
    await shared.acquire({ key: "k", leaseId: "elsewhere", max: 2, ttlMs: 1_000 });
    let created = 0;
    const lazy = lazyLeaseStore(() => {
      created++;
      return shared;
    });
    expect(await lazy.held("k")).toBe(1);
    expect(created).toBe(1);
    await lazy.close();
  });

  it("closes without creating a store that was never used", async () => {
    let created = 0;
    const lazy = lazyLeaseStore(() => {
      created++;
      return new MemoryLeaseStore({ clock: () => 0 });
    });
    await lazy.close();
    expect(created).toBe(0);
  });
});
