import { describe, expect, it } from "vitest";
import { clusterSlot } from "./cluster-slot.ts";

describe("clusterSlot", () => {
  // Expected values are what `CLUSTER KEYSLOT` answers on redis-server 7.0.
  it.each([
    ["foo", 12182],
    ["bar", 5061],
    ["somekey", 11058],
    ["123456789", 12739],
    ["", 0],
    ["héllo", 11061],
  ])("hashes %j to slot %i", (key, slot) => {
    expect(clusterSlot(key)).toBe(slot);
  });

  it.each([
    ["{user1000}.following", 3443],
    ["foo{}{bar}", 8363],
    ["foo{{bar}}zap", 4015],
    ["foo{bar}{zap}", 5061],
  ])("follows the hash tag rules for %j", (key, slot) => {
    expect(clusterSlot(key)).toBe(slot);
  });

  it("puts keys with the same tag in the same slot", () => {
    expect(clusterSlot("sluice:{abc}:60000:1")).toBe(clusterSlot("sluice:{abc}"));
    expect(clusterSlot("sluice:{abc}:1000:7")).toBe(clusterSlot("other{abc}"));
  });
});
