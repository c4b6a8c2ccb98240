import { describe, expect, it } from "vitest";
import type { DescriptorCharge } from "./counter-store.ts";
import {
  chargeArgs,
  chargeManyArgs,
  decodeChargeReply,
  decodePeekReply,
  encodeChargeCall,
  encodePeekCall,
} from "./redis-charge-call.ts";

const descriptors: DescriptorCharge[] = [
  {
    counterKey: "sluice:{a}",
    mode: "enforced",
    cost: 2,
    countRejected: true,
    windows: [
      { windowMs: 60_000, limit: 10 },
      { windowMs: 86_400_000, limit: 100 },
    ],
  },
  { counterKey: "sluice:{b}", mode: "shadow", cost: 0, countRejected: false, windows: [] },
  {
    counterKey: "sluice:{c}",
    mode: "shadow",
    cost: 1,
    countRejected: false,
    windows: [{ windowMs: 1000, limit: 5 }],
  },
];

describe("encodeChargeCall and chargeArgs", () => {
  it("passes the group's keys, a table of their shapes and each key's shape number", () => {
    const call = encodeChargeCall(descriptors, [0, 2]);
    expect(call.charges.map((d) => d.counterKey)).toEqual(["sluice:{a}", "sluice:{c}"]);
    expect(chargeArgs(call)).toEqual({
      numKeys: 2,
      keysAndArgs: [
        ...["sluice:{a}", "sluice:{c}"],
        "2",
        ...["enforced", "2", "1", "2", "60000", "10", "86400000", "100"],
        ...["shadow", "1", "0", "1", "1000", "5"],
        ...["1", "2"],
      ],
    });
  });

  it("gives a descriptor without windows a shape of no window", () => {
    expect(chargeArgs(encodeChargeCall(descriptors, [1])).keysAndArgs).toEqual([
      "sluice:{b}",
      ...["1", "shadow", "0", "0", "0"],
      "1",
    ]);
  });

  it("sends a shape once for the descriptors that share it, and apart when the cost differs", () => {
    const [first] = descriptors;
    if (first === undefined) throw new Error("no descriptor");
    const same = { ...first, counterKey: "sluice:{y}" };
    const dearer = { ...first, counterKey: "sluice:{z}", cost: 7 };
    expect(chargeArgs(encodeChargeCall([first, same, dearer], [0, 1, 2])).keysAndArgs.slice(3)).toEqual([
      "2",
      ...["enforced", "2", "1", "2", "60000", "10", "86400000", "100"],
      ...["enforced", "7", "1", "2", "60000", "10", "86400000", "100"],
      ...["1", "1", "2"],
    ]);
  });
});

describe("chargeManyArgs", () => {
  it("passes every request's keys, one shape table, the request count and per request its key count and shape numbers", () => {
    const many = chargeManyArgs([
      encodeChargeCall(descriptors, [0, 2]),
      encodeChargeCall(descriptors, [1]),
      encodeChargeCall(descriptors, [2]),
    ]);
    expect(many.numKeys).toBe(4);
    expect(many.keysAndArgs).toEqual([
      ...["sluice:{a}", "sluice:{c}", "sluice:{b}", "sluice:{c}"],
      "3",
      ...["enforced", "2", "1", "2", "60000", "10", "86400000", "100"],
      ...["shadow", "1", "0", "1", "1000", "5"],
      ...["shadow", "0", "0", "0"],
      "3",
      ...["2", "1", "2"],
      ...["1", "3"],
      ...["1", "2"],
    ]);
  });
});

describe("decodeChargeReply", () => {
  it("reads nowMs, the decision and three numbers per window in order", () => {
    const reply = [1_700_000_000_123, 1, 3, 1, 1, 40, 0, 0, 6, 2, 1];
    expect(decodeChargeReply(reply, descriptors, [0, 2])).toEqual({
      nowMs: 1_700_000_000_123,
      admitted: true,
      counts: [
        [
          { current: 3, previous: 1, passed: true },
          { current: 40, previous: 0, passed: false },
        ],
        [{ current: 6, previous: 2, passed: true }],
      ],
    });
  });

  it.each([[null], ["OK"], [[1, 1, 3]], [[1, 1, "3", 1, 1]]])("rejects the malformed reply %j", (reply) => {
    expect(() => decodeChargeReply(reply, descriptors, [2])).toThrow(/malformed/);
  });
});

describe("encodePeekCall and decodePeekReply", () => {
  it("passes the group's keys, then each descriptor's window lengths, and reads two counts a window", () => {
    const call = encodePeekCall(descriptors, [0, 2]);
    expect(call.numKeys).toBe(2);
    expect(call.keysAndArgs).toEqual(["sluice:{a}", "sluice:{c}", "2", "60000", "86400000", "1", "1000"]);
    const peeked = decodePeekReply([1_700_000_000_123, 4, 1, 9, 0, 2, 3], descriptors, [0, 2]);
    expect(peeked).toEqual({
      nowMs: 1_700_000_000_123,
      counts: [
        [
          { current: 4, previous: 1 },
          { current: 9, previous: 0 },
        ],
        [{ current: 2, previous: 3 }],
      ],
    });
  });

  it("refuses a reply of the wrong length or type as malformed", () => {
    expect(() => decodePeekReply([1, 2], descriptors, [2])).toThrow(/malformed peek/);
    expect(() => decodePeekReply("OK", descriptors, [2])).toThrow(/malformed peek/);
  });
});
