import { describe, expect, it } from "vitest";
import { StoreError } from "../store/counter-store.ts";
import { MemoryCounterStore } from "../store/memory-counter-store.ts";
import { answerWithoutStore } from "./answer-without-store.ts";
import type { ChargePlan } from "./plan-charges.ts";

const plan: ChargePlan = {
  descriptors: [
    {
      kind: "charged",
      ruleId: "r",
      mode: "enforced",
      cost: 1,
      chargeIndex: 0,
      windows: [{ unit: "minute", requestsPerUnit: 9, windowMs: 60_000 }],
    },
  ],
  charges: [
    {
      counterKey: "k",
      mode: "enforced",
      cost: 1,
      countRejected: true,
      windows: [{ windowMs: 60_000, limit: 9 }],
    },
  ],
};
const error = new StoreError("redis: connection closed", { transient: true });
const decideOptions = { headerStyle: "x-ratelimit", upstreamHeaders: false } as const;

describe("answerWithoutStore", () => {
  it("unavailable: rethrows the store's error for the edge to answer UNAVAILABLE", async () => {
    await expect(answerWithoutStore("unavailable", plan, error, { decideOptions })).rejects.toBe(error);
  });

  it("allow and deny answer without counters", async () => {
    expect((await answerWithoutStore("allow", plan, error, { decideOptions })).code).toBe("OK");
    expect((await answerWithoutStore("deny", plan, error, { decideOptions })).code).toBe("OVER_LIMIT");
  });

  it("local: admits this instance's share of the limit, with headers from its own counters", async () => {
    const store = new MemoryCounterStore({ clock: () => 1_700_000_000_000 });
    const local = { store, expectedInstances: 3 };
    const codes: string[] = [];
    for (let i = 0; i < 4; i++)
      codes.push((await answerWithoutStore("local", plan, error, { local, decideOptions })).code);
    // 9 per minute over 3 instances: 3 here.
    expect(codes).toEqual(["OK", "OK", "OK", "OVER_LIMIT"]);
    const last = await answerWithoutStore("local", plan, error, { local, decideOptions });
    expect(last.responseHeaders).toContainEqual({ key: "X-RateLimit-Limit", value: "3" });
    await store.close();
  });

  it("local without a local store answers as unavailable", async () => {
    await expect(answerWithoutStore("local", plan, error, { decideOptions })).rejects.toBe(error);
  });
});
