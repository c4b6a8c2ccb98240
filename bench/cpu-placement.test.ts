import { describe, expect, it } from "vitest";
import { cpuPlacement } from "./cpu-placement.ts";

describe("cpuPlacement", () => {
  it.each([
    // N, largest N, cores → server, Redis, ghz, ghz --cpus
    [1, 1, 2, "0", "1", "1", 1],
    [1, 1, 8, "0", "1", "2-7", 6],
    [2, 4, 8, "0-1", "4", "5-7", 3],
    [4, 4, 8, "0-3", "4", "5-7", 3],
    [6, 6, 8, "0-5", "6", "7", 1],
  ])(
    "N=%i of up to %i on %i cores: server %s, Redis %s, ghz %s",
    (n, largest, cores, server, redis, ghz, ghzCpus) => {
      expect(cpuPlacement(n, largest, cores)).toMatchObject({ server, redis, ghz, ghzCpus });
    },
  );

  it("keeps Redis and ghz on the same cores for every N of a run", () => {
    const [a, b] = [cpuPlacement(1, 4, 16), cpuPlacement(4, 4, 16)];
    expect([a.redis, a.ghz]).toEqual([b.redis, b.ghz]);
  });

  it("says when Redis and ghz must share the only core left", () => {
    expect(cpuPlacement(1, 1, 2).note).toContain("sharing CPU 1");
  });

  it("refuses a server that leaves no core for ghz and Redis, or a count that is not one", () => {
    expect(() => cpuPlacement(2, 2, 2)).toThrow(/needs at least 3 cores/);
    expect(() => cpuPlacement(0, 1, 4)).toThrow(/not a count/);
  });
});
