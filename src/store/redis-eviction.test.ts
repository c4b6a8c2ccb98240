import { describe, expect, it } from "vitest";
import { mayEvict } from "./redis-eviction.ts";

describe("mayEvict", () => {
  it("is false without a memory bound, whatever the policy", () => {
    expect(mayEvict({ maxmemoryBytes: 0, policy: "allkeys-lru" })).toBe(false);
  });

  it("is false with noeviction: a full Redis refuses writes instead", () => {
    expect(mayEvict({ maxmemoryBytes: 1 << 26, policy: "noeviction" })).toBe(false);
  });

  it("is true with a bound and any evicting policy, volatile ones included (Sluice's keys all expire)", () => {
    for (const policy of [
      "allkeys-lru",
      "allkeys-lfu",
      "allkeys-random",
      "volatile-lru",
      "volatile-lfu",
      "volatile-random",
      "volatile-ttl",
    ]) {
      expect(mayEvict({ maxmemoryBytes: 1 << 26, policy })).toBe(true);
    }
  });
});
