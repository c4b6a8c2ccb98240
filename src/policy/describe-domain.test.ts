import { describe, expect, it } from "vitest";
import { describeDomain } from "./describe-domain.ts";

describe("describeDomain", () => {
  it.each<[number, string]>([
    [0, "empty: 0 rules (p/empty.yaml)"],
    [1, "empty: 1 rule (p/empty.yaml)"],
    [14, "empty: 14 rules (p/empty.yaml)"],
  ])("%i rules", (ruleCount, line) => {
    expect(describeDomain({ domain: "empty", file: "p/empty.yaml", ruleCount })).toBe(line);
  });
});
