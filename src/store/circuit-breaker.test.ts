import { describe, expect, it } from "vitest";
import { type BreakerState, createCircuitBreaker } from "./circuit-breaker.ts";

function setup(failureThreshold = 3, openMs = 250) {
  let now = 1_000;
  const changes: string[] = [];
  const breaker = createCircuitBreaker({
    failureThreshold,
    openMs,
    clock: () => now,
    onStateChange: (from: BreakerState, to: BreakerState) => changes.push(`${from}->${to}`),
  });
  return {
    breaker,
    changes,
    advance(ms: number) {
      now += ms;
    },
    fail(times: number) {
      for (let i = 0; i < times; i++) {
        expect(breaker.tryAcquire()).toBe(true);
        breaker.recordFailure();
      }
    },
  };
}

describe("createCircuitBreaker", () => {
  it("starts closed and lets every call through", () => {
    const { breaker } = setup();
    expect(breaker.state()).toBe("closed");
    for (let i = 0; i < 10; i++) expect(breaker.tryAcquire()).toBe(true);
  });

  it("opens after the threshold of consecutive failures, not before", () => {
    const { breaker, fail, changes } = setup(3);
    fail(2);
    expect(breaker.state()).toBe("closed");
    fail(1);
    expect(breaker.state()).toBe("open");
    expect(breaker.tryAcquire()).toBe(false);
    expect(changes).toEqual(["closed->open"]);
  });

  it("counts consecutive failures only: a success in between starts the count again", () => {
    const { breaker, fail } = setup(3);
    fail(2);
    breaker.recordSuccess();
    fail(2);
    expect(breaker.state()).toBe("closed");
  });

  it("lets exactly one probe through once the open period has passed", () => {
    const { breaker, fail, advance } = setup(1, 250);
    fail(1);
    advance(249);
    expect(breaker.tryAcquire()).toBe(false);
    advance(1);
    expect(breaker.state()).toBe("half-open");
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it("frees the probe when the call let through is released unused", () => {
    const { breaker, fail, advance } = setup(1, 250);
    fail(1);
    advance(250);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.release();
    expect(breaker.state()).toBe("half-open");
    expect(breaker.tryAcquire()).toBe(true);
  });

  it("closes when the probe succeeds", () => {
    const { breaker, fail, advance, changes } = setup(1, 250);
    fail(1);
    advance(250);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordSuccess();
    expect(breaker.state()).toBe("closed");
    expect(breaker.tryAcquire()).toBe(true);
    expect(changes).toEqual(["closed->open", "open->half-open", "half-open->closed"]);
  });

  it("opens again for a full period when the probe fails", () => {
    const { breaker, fail, advance, changes } = setup(1, 250);
    fail(1);
    advance(300);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordFailure();
    expect(breaker.state()).toBe("open");
    advance(249);
    expect(breaker.tryAcquire()).toBe(false);
    advance(1);
    expect(breaker.tryAcquire()).toBe(true);
    expect(changes).toEqual(["closed->open", "open->half-open", "half-open->open", "open->half-open"]);
  });

  it("ignores late failures of calls let through before it opened", () => {
    const { breaker, fail, advance } = setup(2, 250);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    fail(2);
    advance(200);
    // The two earlier calls fail late: the open period is not extended.
    breaker.recordFailure();
    breaker.recordFailure();
    advance(50);
    expect(breaker.state()).toBe("half-open");
  });

  it("closes on any success, even one that was let through before it opened", () => {
    const { breaker, fail } = setup(1);
    expect(breaker.tryAcquire()).toBe(true);
    fail(1);
    breaker.recordSuccess();
    expect(breaker.state()).toBe("closed");
  });
});
