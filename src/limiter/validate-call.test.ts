import { describe, expect, it } from "vitest";
import type { Unit } from "../policy/units.ts";
import { InvalidRequestError, type RateLimitCall } from "./limiter-types.ts";
import { validateCall } from "./validate-call.ts";

const valid: RateLimitCall = {
  domain: "api",
  descriptors: [{ entries: [{ key: "tenant", value: "acme" }] }],
  hitsAddend: 0,
};

describe("validateCall", () => {
  it("accepts a well-formed call", () => {
    expect(() => validateCall(valid)).not.toThrow();
  });

  it("accepts an empty value, which Envoy's descriptor actions can produce", () => {
    expect(() =>
      validateCall({ ...valid, descriptors: [{ entries: [{ key: "k", value: "" }] }] }),
    ).not.toThrow();
  });

  it("accepts a descriptor cost of 0 (check only) and an override", () => {
    const call: RateLimitCall = {
      ...valid,
      descriptors: [
        {
          entries: [{ key: "k", value: "v" }],
          hitsAddend: 0,
          limitOverride: { requestsPerUnit: 0, unit: "hour" },
        },
      ],
    };
    expect(() => validateCall(call)).not.toThrow();
  });

  const invalid: [string, RateLimitCall, string][] = [
    ["empty domain", { ...valid, domain: "" }, "domain must not be empty"],
    ["no descriptors", { ...valid, descriptors: [] }, "descriptors must not be empty"],
    [
      "a descriptor without entries",
      { ...valid, descriptors: [...valid.descriptors, { entries: [] }] },
      "descriptors[1].entries must not be empty",
    ],
    [
      "an entry with an empty key",
      {
        ...valid,
        descriptors: [
          {
            entries: [
              { key: "a", value: "1" },
              { key: "", value: "2" },
            ],
          },
        ],
      },
      "descriptors[0].entries[1].key must not be empty",
    ],
    [
      "a negative request cost",
      { ...valid, hitsAddend: -1 },
      "hits_addend must be a non-negative integer, got -1",
    ],
    [
      "a fractional descriptor cost",
      { ...valid, descriptors: [{ entries: [{ key: "k", value: "v" }], hitsAddend: 1.5 }] },
      "descriptors[0].hits_addend must be a non-negative integer, got 1.5",
    ],
    [
      "an override with an unknown unit",
      {
        ...valid,
        descriptors: [
          {
            entries: [{ key: "k", value: "v" }],
            limitOverride: { requestsPerUnit: 5, unit: "fortnight" as Unit },
          },
        ],
      },
      'descriptors[0].limit.unit must be a known unit, got "fortnight"',
    ],
  ];
  it.each(invalid)("rejects %s", (_name, call, message) => {
    expect(() => validateCall(call)).toThrow(InvalidRequestError);
    expect(() => validateCall(call)).toThrow(message);
  });
});
