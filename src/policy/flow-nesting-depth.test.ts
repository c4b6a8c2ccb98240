import { describe, expect, it } from "vitest";
import { flowNestingDepth } from "./flow-nesting-depth.ts";

describe("flowNestingDepth", () => {
  it.each<[string, string, number]>([
    ["block YAML has none", "a:\n  b: [1, 2]\n", 1],
    ["nested flow collections", "a: [{b: [1]}]", 3],
    ["brackets in quotes do not count", 'a: \'[[[[\'\nb: "{{\\"[["', 0],
    ["brackets in comments do not count", "a: 1 # [[[[\n# {{{{\n", 0],
    ["a hash inside a plain scalar is not a comment", "a: x#[[", 2],
  ])("%s", (_name, text, depth) => {
    expect(flowNestingDepth(text, 100)).toBe(depth);
  });

  it("stops as soon as the limit is passed", () => {
    expect(flowNestingDepth("[".repeat(1_000_000), 128)).toBe(129);
  });
});
