import { describe, expect, it } from "vitest";
import { reconnectDelayMs } from "./redis-connection.ts";

describe("reconnectDelayMs", () => {
  it("backs off by 50 ms an attempt and caps at 250 ms, so a returning Redis is found within a quarter second", () => {
    expect([1, 2, 3, 4, 5, 6, 100].map(reconnectDelayMs)).toEqual([50, 100, 150, 200, 250, 250, 250]);
  });

  it("never asks ioredis to stop retrying (it stops on a non-number) or to retry at once", () => {
    for (const times of [0, 1, 1_000_000]) {
      expect(reconnectDelayMs(times)).toBeGreaterThanOrEqual(50);
    }
  });
});
