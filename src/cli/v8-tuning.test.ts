import { describe, expect, it } from "vitest";
import { v8FlagsForServing } from "./v8-tuning.ts";

describe("v8FlagsForServing", () => {
  it("turns allocation-site pretenuring off", () => {
    expect(v8FlagsForServing([])).toEqual(["--no-allocation-site-pretenuring"]);
    expect(v8FlagsForServing(["--max-semi-space-size=64"])).toEqual(["--no-allocation-site-pretenuring"]);
  });

  it("leaves it to a node flag that names it, either way and in either spelling", () => {
    expect(v8FlagsForServing(["--allocation-site-pretenuring"])).toEqual([]);
    expect(v8FlagsForServing(["--no-allocation-site-pretenuring"])).toEqual([]);
    expect(v8FlagsForServing(["--allocation_site_pretenuring"])).toEqual([]);
  });
});
