import { describe, expect, it } from "vitest";
import { createPolicyReloader, type ReloadOutcome } from "./policy-reloader.ts";
import type { PolicyLoadResult, PolicyTable } from "./policy-types.ts";

function table(name: string): PolicyTable {
  return {
    domains: new Map([[name, { domain: name, file: `${name}.yaml`, ruleCount: 1 }]]),
    match: () => undefined,
    hasDomain: (domain) => domain === name,
  };
}

const ok = (t: PolicyTable): PolicyLoadResult => ({ ok: true, table: t, files: [], warnings: [] });
const broken: PolicyLoadResult = {
  ok: false,
  errors: [{ file: "api.yaml", path: "descriptors[0].rate_limit.unit", message: "unknown unit" }],
};

/** A load whose answers the test releases one by one, to see reloads overlap. */
function manualLoads() {
  const pending: ((result: PolicyLoadResult) => void)[] = [];
  return {
    load: () => new Promise<PolicyLoadResult>((resolve) => pending.push(resolve)),
    started: () => pending.length,
    answer(index: number, result: PolicyLoadResult) {
      pending[index]?.(result);
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("createPolicyReloader", () => {
  it("swaps in a valid set and counts the generation", async () => {
    const first = table("one");
    const second = table("two");
    const reloader = createPolicyReloader({ initial: first, load: async () => ok(second) });
    expect(reloader.current()).toBe(first);
    expect(reloader.generation()).toBe(1);
    expect(await reloader.reload("SIGHUP")).toMatchObject({ ok: true, generation: 2 });
    expect(reloader.current()).toBe(second);
  });

  it("keeps the last good table when the new set is invalid, and reports every error", async () => {
    const first = table("one");
    const seen: [ReloadOutcome, string][] = [];
    const reloader = createPolicyReloader({
      initial: first,
      load: async () => broken,
      onReload: (outcome, trigger) => seen.push([outcome, trigger]),
    });
    expect(await reloader.reload("file change")).toEqual({ ok: false, generation: 1, errors: broken.errors });
    expect(reloader.current()).toBe(first);
    expect(reloader.generation()).toBe(1);
    expect(seen).toEqual([[{ ok: false, generation: 1, errors: broken.errors }, "file change"]]);
  });

  it("treats a load that throws as a failed reload, not a crash", async () => {
    const first = table("one");
    const reloader = createPolicyReloader({
      initial: first,
      load: () => Promise.reject(new Error("EMFILE")),
    });
    const outcome = await reloader.reload("SIGHUP");
    expect(outcome.ok).toBe(false);
    expect(reloader.current()).toBe(first);
  });

  it("hands a caller that snapshotted the table the old one until it reads again", async () => {
    const first = table("one");
    const reloader = createPolicyReloader({ initial: first, load: async () => ok(table("two")) });
    const snapshot = reloader.current();
    await reloader.reload("SIGHUP");
    expect(snapshot).toBe(first);
    expect(reloader.current()).not.toBe(first);
  });

  it("runs one load at a time, reloads again after a change seen mid-load, and merges waiting triggers", async () => {
    const loads = manualLoads();
    const reloader = createPolicyReloader({ initial: table("zero"), load: loads.load });
    const running = reloader.reload("file change");
    await tick();
    expect(loads.started()).toBe(1);

    // Three triggers while the first load runs: one more load, shared by all three.
    const waiting = [reloader.reload("a"), reloader.reload("b"), reloader.reload("SIGHUP")];
    expect(waiting[1]).toBe(waiting[0]);
    expect(waiting[2]).toBe(waiting[0]);
    await tick();
    expect(loads.started()).toBe(1);

    const one = table("one");
    loads.answer(0, ok(one));
    expect(await running).toMatchObject({ ok: true, generation: 2 });
    await tick();
    expect(loads.started()).toBe(2);
    const two = table("two");
    loads.answer(1, ok(two));
    expect(await waiting[0]).toMatchObject({ ok: true, generation: 3 });
    expect(reloader.current()).toBe(two);
  });
});
