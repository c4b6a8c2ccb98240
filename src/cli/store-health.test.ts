import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { buildPolicyTable } from "../policy/build-policy-table.ts";
import type { FailurePolicy } from "../policy/failure-policy.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import { canAnswer, watchStoreHealth } from "./store-health.ts";

/** A table with one domain per entry, each with its own `failure_policy` or none (undefined). */
function table(...policies: (FailurePolicy | undefined)[]): PolicyTable {
  const built = buildPolicyTable(
    policies.map((policy, n) => ({
      file: `d${n}.yaml`,
      text: `domain: d${n}\n${policy ? `failure_policy: ${policy}\n` : ""}descriptors:\n  - key: user\n    rate_limit: { unit: second, requests_per_unit: 1 }\n`,
    })),
  );
  if (!built.ok) throw new Error(JSON.stringify(built.errors));
  return built.table;
}

describe("canAnswer: gRPC health while the store is down", () => {
  const cases: [
    what: string,
    domains: (FailurePolicy | undefined)[],
    service: FailurePolicy,
    serving: boolean,
  ][] = [
    ["every domain follows unavailable", [undefined, undefined], "unavailable", false],
    ["every domain sets unavailable itself", ["unavailable", "unavailable"], "allow", false],
    ["one domain answers locally", [undefined, "local"], "unavailable", true],
    ["one domain allows", ["unavailable", "allow"], "unavailable", true],
    ["one domain denies", [undefined, "deny"], "unavailable", true],
    ["the service allows, no domain overrides", [undefined], "allow", true],
    ["the service answers locally, one domain overrides", ["unavailable", undefined], "local", true],
    ["no domains, service unavailable", [], "unavailable", false],
    ["no domains, service deny", [], "deny", true],
  ];
  for (const [what, domains, service, serving] of cases) {
    it(`${serving ? "SERVING" : "NOT_SERVING"} when ${what}`, () => {
      expect(canAnswer(false, table(...domains), service)).toBe(serving);
    });
  }

  it("always SERVING while the store answers", () => {
    expect(canAnswer(true, table(undefined, "unavailable"), "unavailable")).toBe(true);
    expect(canAnswer(true, table(), "unavailable")).toBe(true);
  });
});

describe("watchStoreHealth", () => {
  it("reports changes once and every check, so serving can follow a reloaded policy", async () => {
    const results = [true, true, false, false, true];
    const changes: boolean[] = [];
    const checks: boolean[] = [];
    const watcher = watchStoreHealth(
      { ping: () => ((results.shift() ?? true) ? Promise.resolve() : Promise.reject(new Error("down"))) },
      { onChange: (up) => changes.push(up), onCheck: (up) => checks.push(up), intervalMs: 5 },
    );
    for (let i = 0; i < 200 && checks.length < 5; i++) await sleep(5);
    watcher.stop();
    expect(checks.slice(0, 5)).toEqual([true, true, false, false, true]);
    expect(changes.slice(0, 3)).toEqual([true, false, true]);
  });
});
