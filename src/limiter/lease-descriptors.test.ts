import { describe, expect, it } from "vitest";
import { hasLeaseEntries, splitLeaseDescriptors } from "./lease-descriptors.ts";
import { InvalidRequestError, type RateLimitCall } from "./limiter-types.ts";

const entries = (...pairs: [string, string][]) => pairs.map(([key, value]) => ({ key, value }));
const call = (...descriptors: RateLimitCall["descriptors"]): RateLimitCall => ({
  domain: "api",
  descriptors,
  hitsAddend: 0,
});

describe("splitLeaseDescriptors", () => {
  it("separates lease descriptors, stripping the lease entry, and keeps every position", () => {
    const tenantPlan = entries(["tenant", "acme"], ["plan", "pro"]);
    const request = call(
      { entries: tenantPlan },
      { entries: [...tenantPlan, { key: "lease_acquire", value: "req-1" }] },
      { entries: entries(["api_key", "k"]) },
      { entries: [...tenantPlan, { key: "lease_release", value: "req-0" }] },
    );
    expect(hasLeaseEntries(request)).toBe(true);
    expect(splitLeaseDescriptors(request)).toEqual({
      rate: [
        { index: 0, descriptor: { entries: tenantPlan } },
        { index: 2, descriptor: { entries: entries(["api_key", "k"]) } },
      ],
      leases: [
        { index: 1, action: "acquire", entries: tenantPlan, leaseId: "req-1" },
        { index: 3, action: "release", entries: tenantPlan, leaseId: "req-0" },
      ],
    });
  });

  it("leaves a call without lease entries to the rate path", () => {
    const request = call({ entries: entries(["tenant", "acme"]) });
    expect(hasLeaseEntries(request)).toBe(false);
    expect(splitLeaseDescriptors(request).leases).toEqual([]);
  });

  it.each<[string, RateLimitCall, string]>([
    [
      "a lease entry that is not last",
      call({ entries: entries(["tenant", "a"], ["lease_acquire", "r"], ["plan", "pro"]) }),
      "descriptors[0].entries[1]: 'lease_acquire' must be the last entry of its descriptor",
    ],
    [
      "a lease entry with nothing to match before it",
      call({ entries: entries(["lease_release", "r"]) }),
      "descriptors[0].entries[0]: 'lease_release' needs entries before it naming the limited descriptor (e.g. tenant)",
    ],
    [
      "an empty lease id",
      call({ entries: entries(["tenant", "a"], ["lease_acquire", ""]) }),
      "descriptors[0].entries[1].value: the lease id (the request id) must not be empty",
    ],
    [
      "a limit override on a lease descriptor",
      call({
        entries: entries(["tenant", "a"], ["lease_acquire", "r"]),
        limitOverride: { requestsPerUnit: 1, unit: "second" },
      }),
      "descriptors[0].limit: a lease descriptor cannot carry a limit override",
    ],
  ])("refuses %s", (_, request, message) => {
    expect(() => splitLeaseDescriptors(request)).toThrow(new InvalidRequestError(message));
  });
});
