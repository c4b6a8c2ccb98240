import { describe, expect, it } from "vitest";
import { batchCharges, type ChargeSender, MAX_BATCH } from "./redis-charge-batch.ts";
import type { ChargeCall } from "./redis-charge-call.ts";

/** A request on one key; its reply names the key, so answers can be matched. */
const call = (key: string): ChargeCall => ({
  indices: [0],
  charges: [
    {
      counterKey: key,
      mode: "enforced",
      cost: 1,
      countRejected: false,
      windows: [{ windowMs: 60_000, limit: 10 }],
    },
  ],
});
/** The shape table of calls that all have call()'s one shape. */
const ONE_SHAPE = ["1", "enforced", "1", "0", "1", "60000", "10"];

function recordingSender(answer: (keys: string[]) => unknown = (keys) => keys.map((k) => [k])) {
  const sent: { script: "one" | "many"; keysAndArgs: string[] }[] = [];
  const sender: ChargeSender = {
    one: async (_numKeys, ...keysAndArgs) => {
      sent.push({ script: "one", keysAndArgs });
      return [keysAndArgs[0]];
    },
    many: async (numKeys, ...keysAndArgs) => {
      sent.push({ script: "many", keysAndArgs });
      const result = answer(keysAndArgs.slice(0, numKeys));
      if (result instanceof Error) throw result;
      return result;
    },
  };
  return { sender, sent };
}

describe("batchCharges", () => {
  it("sends a turn's charges as one CHARGE_MANY call and hands each caller its own reply", async () => {
    const { sender, sent } = recordingSender();
    const charge = batchCharges(sender);
    const replies = await Promise.all(["a", "b", "a"].map((k) => charge(call(k))));
    expect(replies).toEqual([["a"], ["b"], ["a"]]);
    expect(sent).toEqual([
      {
        script: "many",
        keysAndArgs: ["a", "b", "a", ...ONE_SHAPE, "3", "1", "1", "1", "1", "1", "1"],
      },
    ]);
  });

  it("sends a lone charge as the ordinary script", async () => {
    const { sender, sent } = recordingSender();
    expect(await batchCharges(sender)(call("a"))).toEqual(["a"]);
    expect(sent.map((s) => s.script)).toEqual(["one"]);
  });

  it("splits a turn into calls of at most MAX_BATCH requests, in order", async () => {
    const { sender, sent } = recordingSender();
    const charge = batchCharges(sender);
    const keys = Array.from({ length: MAX_BATCH + 1 }, (_, n) => `k${n}`);
    expect(await Promise.all(keys.map((k) => charge(call(k))))).toEqual(keys.map((k) => [k]));
    expect(sent.map((s) => s.script)).toEqual(["many", "one"]);
  });

  it("fails only the request whose reply is an error, and every request of a failed call", async () => {
    const failing = new Error("ERR increment or decrement would overflow");
    const { sender } = recordingSender((keys) => keys.map((k) => (k === "bad" ? failing : [k])));
    const charge = batchCharges(sender);
    const settled = await Promise.allSettled(["a", "bad", "c"].map((k) => charge(call(k))));
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);

    const down = recordingSender(() => new Error("Connection is closed."));
    const both = batchCharges(down.sender);
    const lost = await Promise.allSettled(["a", "b"].map((k) => both(call(k))));
    expect(lost.map((s) => s.status)).toEqual(["rejected", "rejected"]);
  });

  it("rejects every request of a reply that does not hold one answer per request", async () => {
    const { sender } = recordingSender(() => [["a"]]);
    const charge = batchCharges(sender);
    const settled = await Promise.allSettled(["a", "b"].map((k) => charge(call(k))));
    expect(settled.every((s) => s.status === "rejected")).toBe(true);
  });

  it("on a Cluster sends each master its share of the turn, and a call of unknown node alone", async () => {
    const { sender, sent } = recordingSender();
    const nodeOf = (c: ChargeCall) =>
      ({ a1: "A", a2: "A", b1: "B", b2: "B" })[c.charges[0]?.counterKey ?? ""];
    const charge = batchCharges(sender, nodeOf);
    const keys = ["a1", "b1", "x", "a2", "b2"];
    expect(await Promise.all(keys.map((k) => charge(call(k))))).toEqual(keys.map((k) => [k]));
    expect(sent.map((s) => `${s.script}:${s.keysAndArgs.slice(0, 2).join(",")}`)).toEqual([
      "one:x,1",
      "many:a1,a2",
      "many:b1,b2",
    ]);
  });
});
