import { describe, expect, it } from "vitest";
import { compileGlob } from "./compile-glob.ts";

describe("compileGlob", () => {
  it.each<[string, string, boolean]>([
    ["v1*", "v1", true],
    ["v1*", "v1/leads", true],
    ["v1*", "v2", false],
    ["*", "", true],
    ["*", "anything", true],
    ["*-eu", "team-eu", true],
    ["*-eu", "team-us", false],
    ["team-*-eu", "team-red-eu", true],
    ["team-*-eu", "team-eu", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "acb", false],
    ["a*bc*bc", "abcbc", true],
    ["a*bc*bc", "abc", false],
    ["ab*ba", "aba", false],
    ["**", "x", true],
    ["literal", "literal", true],
    ["literal", "literally", false],
  ])("%s against %s → %s", (pattern, value, expected) => {
    expect(compileGlob(pattern)(value)).toBe(expected);
  });
});
