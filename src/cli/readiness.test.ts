import { describe, expect, it } from "vitest";
import { buildPolicyTable } from "../policy/build-policy-table.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import { type InstanceState, notReadyReason, trackReadiness } from "./readiness.ts";

function table(failurePolicy?: string): PolicyTable {
  const built = buildPolicyTable([
    {
      file: "d.yaml",
      text: `domain: d\n${failurePolicy ? `failure_policy: ${failurePolicy}\n` : ""}descriptors:\n  - key: user\n    rate_limit: { unit: second, requests_per_unit: 1 }\n`,
    },
  ]);
  if (!built.ok) throw new Error(JSON.stringify(built.errors));
  return built.table;
}

const up: InstanceState = {
  accepting: true,
  policyLoaded: true,
  storeUp: true,
  table: table(),
  failurePolicy: "unavailable",
};

describe("notReadyReason: one answer for /readyz and gRPC health", () => {
  const cases: [what: string, state: InstanceState, reason: string | undefined][] = [
    ["the store answers", up, undefined],
    ["shutting down", { ...up, accepting: false }, "shutting down"],
    ["no policy loaded", { ...up, policyLoaded: false }, "no policy loaded"],
    ["before the first ping", { ...up, storeUp: undefined }, "counter store not checked yet"],
    [
      "the store is down and every call would fail UNAVAILABLE",
      { ...up, storeUp: false },
      "counter store unreachable, and no domain's failure policy answers without it",
    ],
    [
      "the store is down and the service allows",
      { ...up, storeUp: false, failurePolicy: "allow" },
      undefined,
    ],
    [
      "the store is down and the domain answers locally",
      { ...up, storeUp: false, table: table("local") },
      undefined,
    ],
    [
      "shutting down wins over a store that answers",
      { ...up, accepting: false, storeUp: true },
      "shutting down",
    ],
  ];
  for (const [what, state, reason] of cases) {
    it(`${reason === undefined ? "ready" : "not ready"} when ${what}`, () => {
      expect(notReadyReason(state)).toBe(reason);
    });
  }
});

describe("trackReadiness", () => {
  it("reports the first state and each change, not every ping; shutdown is final", () => {
    const changes: boolean[] = [];
    const readiness = trackReadiness({
      policyLoaded: () => true,
      policy: () => table(),
      failurePolicy: "unavailable",
      onChange: (ready) => changes.push(ready),
    });
    expect(readiness.notReady()).toBe("counter store not checked yet");
    readiness.storeChecked(true);
    readiness.storeChecked(true);
    readiness.storeChecked(false);
    readiness.storeChecked(false);
    readiness.storeChecked(true);
    expect(changes).toEqual([true, false, true]);
    expect(readiness.notReady()).toBeUndefined();
    readiness.stopAccepting();
    readiness.storeChecked(true);
    expect(changes).toEqual([true, false, true, false]);
    expect(readiness.notReady()).toBe("shutting down");
  });
});
