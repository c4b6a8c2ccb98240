import { describe, expect, it } from "vitest";
import { descriptorBinding, latestRetry, leastRemaining } from "./binding-window.ts";
import type { WindowReport } from "./window-report.ts";

function report(name: string, fields: Partial<WindowReport>): WindowReport {
  return {
    ruleId: "r",
    mode: "enforced",
    unit: "minute",
    name,
    limit: 20,
    windowMs: 60_000,
    estimate: 0,
    remaining: 20,
    resetMs: 30_000,
    passed: true,
    retryAfterSeconds: undefined,
    ...fields,
  };
}

const names = (r: WindowReport | undefined) => r?.name;

describe("binding window", () => {
  it("on OK picks the least remaining, then the later reset, then the first", () => {
    const a = report("a", { remaining: 5, resetMs: 10_000 });
    const b = report("b", { remaining: 3, resetMs: 10_000 });
    const c = report("c", { remaining: 3, resetMs: 50_000 });
    const d = report("d", { remaining: 3, resetMs: 50_000 });
    expect(names(leastRemaining([a, b, c, d]))).toBe("c");
    expect(names(leastRemaining([a, b]))).toBe("b");
    expect(leastRemaining([])).toBeUndefined();
  });

  it("on OVER_LIMIT picks the latest retry, a window no wait clears counting as latest", () => {
    const soon = report("soon", { passed: false, remaining: 0, retryAfterSeconds: 5 });
    const late = report("late", { passed: false, remaining: 0, retryAfterSeconds: 3600 });
    const never = report("never", { passed: false, remaining: 2, retryAfterSeconds: undefined });
    expect(names(latestRetry([soon, late]))).toBe("late");
    expect(names(latestRetry([soon, never, late]))).toBe("never");
  });

  it("breaks retry ties by least remaining, then later reset", () => {
    const x = report("x", { passed: false, remaining: 1, retryAfterSeconds: 10, resetMs: 1000 });
    const y = report("y", { passed: false, remaining: 0, retryAfterSeconds: 10, resetMs: 1000 });
    const z = report("z", { passed: false, remaining: 0, retryAfterSeconds: 10, resetMs: 9000 });
    expect(names(latestRetry([x, y]))).toBe("y");
    expect(names(latestRetry([x, y, z]))).toBe("z");
  });

  it("per descriptor prefers any failing window over a passing one with less left", () => {
    const failing = report("day", { passed: false, remaining: 4, retryAfterSeconds: 60 });
    const tight = report("minute", { remaining: 0 });
    expect(names(descriptorBinding([tight, failing]))).toBe("day");
    expect(names(descriptorBinding([tight, report("hour", { remaining: 9 })]))).toBe("minute");
  });
});
