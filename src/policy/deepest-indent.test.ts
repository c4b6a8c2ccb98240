import { describe, expect, it } from "vitest";
import { deepestIndent } from "./deepest-indent.ts";

describe("deepestIndent", () => {
  it("finds the first line indented past the limit", () => {
    expect(deepestIndent("a:\n  b:\n      c: 1\n", 4)).toEqual({ line: 3, column: 5 });
  });

  it("counts compact block indicators as indentation", () => {
    expect(deepestIndent(`x:\n${"- ".repeat(10)}k: v\n`, 8)).toEqual({ line: 2, column: 10 });
    expect(deepestIndent("? ? ? a\n", 4)).toEqual({ line: 1, column: 6 });
  });

  it("ignores dashes and question marks that are not indicators", () => {
    expect(deepestIndent("  -1\n  ?x\n  --- \n", 2)).toBeUndefined();
  });

  it("accepts text within the limit, including the last line without a newline", () => {
    expect(deepestIndent("a:\n  - b: 1\n    c: 2", 8)).toBeUndefined();
    expect(deepestIndent("", 0)).toBeUndefined();
  });

  it("stops counting at the limit, so one huge line costs no more than the limit", () => {
    expect(deepestIndent(" ".repeat(1_000_000), 512)).toEqual({ line: 1, column: 513 });
  });
});
