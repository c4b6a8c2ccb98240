import { describe, expect, it } from "vitest";
import { callerGaveUp, deadlineMs } from "./call-deadline.ts";

const caller = (deadline: Date | number, cancelled = false) => ({ getDeadline: () => deadline, cancelled });

describe("deadlineMs", () => {
  it("reads Date and number deadlines, and Infinity for none", () => {
    expect(deadlineMs(caller(new Date(1_000)))).toBe(1_000);
    expect(deadlineMs(caller(2_000))).toBe(2_000);
    expect(deadlineMs(caller(Infinity))).toBe(Infinity);
  });
});

describe("callerGaveUp", () => {
  it("is true once the deadline has passed or the call was cancelled", () => {
    expect(callerGaveUp(caller(1_000), 1_000, 999)).toBe(false);
    expect(callerGaveUp(caller(1_000), 1_000, 1_000)).toBe(true);
    expect(callerGaveUp(caller(1_000, true), 1_000, 0)).toBe(true);
    expect(callerGaveUp(caller(Infinity), Infinity, Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});
