import { describe, expect, it } from "vitest";
import type { Unit } from "../policy/units.ts";
import { InvalidRequestError, type RateLimitCall } from "./limiter-types.ts";
import type { RequestLimits } from "./request-limits.ts";
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

  describe("size limits", () => {
    const limits: RequestLimits = {
      maxDescriptors: 2,
      maxEntriesPerDescriptor: 2,
      maxKeyBytes: 8,
      maxValueBytes: 12,
    };
    const entry = { key: "k", value: "v" };
    const call = (descriptors: RateLimitCall["descriptors"], domain = "api"): RateLimitCall => ({
      domain,
      descriptors,
      hitsAddend: 0,
    });

    it("accepts a call exactly at every limit, counting UTF-8 bytes", () => {
      const atLimit = call(
        [{ entries: [entry, { key: "k".repeat(8), value: "é".repeat(6) }] }, { entries: [entry, entry] }],
        "d".repeat(8),
      );
      expect(() => validateCall(atLimit, limits)).not.toThrow();
    });

    const over: [string, RateLimitCall, string][] = [
      [
        "too many descriptors",
        call([{ entries: [entry] }, { entries: [entry] }, { entries: [entry] }]),
        "descriptors: 3 exceed the limit of 2 descriptors per request",
      ],
      [
        "too many entries",
        call([{ entries: [entry, entry, entry] }]),
        "descriptors[0].entries: 3 exceed the limit of 2 entries per descriptor",
      ],
      [
        "a long domain",
        call([{ entries: [entry] }], "d".repeat(9)),
        "domain: 9 bytes exceed the limit of 8 (max key bytes)",
      ],
      [
        "a long key",
        call([{ entries: [entry, { key: "k".repeat(9), value: "v" }] }]),
        "descriptors[0].entries[1].key: 9 bytes exceed the limit of 8 (max key bytes)",
      ],
      // Six characters, thirteen bytes: the limit is on bytes, not characters.
      [
        "a long multi-byte value",
        call([{ entries: [{ key: "k", value: "ééééé€" }] }]),
        "descriptors[0].entries[0].value: 13 bytes exceed the limit of 12 (max value bytes)",
      ],
    ];
    it.each(over)("rejects %s, naming the limit", (_name, tooBig, message) => {
      expect(() => validateCall(tooBig, limits)).toThrow(InvalidRequestError);
      expect(() => validateCall(tooBig, limits)).toThrow(message);
    });

    it("never echoes the oversized text", () => {
      const secret = "x".repeat(5000);
      expect(() => validateCall(call([{ entries: [{ key: "k", value: secret }] }]), limits)).toThrow(
        /^(?!.*xxxx).*$/,
      );
    });

    it("applies the defaults when no limits are given", () => {
      const many = call(Array.from({ length: 65 }, () => ({ entries: [entry] })));
      expect(() => validateCall(many)).toThrow("limit of 64 descriptors per request");
      const longValue = call([{ entries: [{ key: "k", value: "v".repeat(1025) }] }]);
      expect(() => validateCall(longValue)).toThrow("1025 bytes exceed the limit of 1024");
    });
  });
});
