import type { Clock } from "../clock.ts";
import type { LeaseRequest } from "../store/lease-store.ts";
import type { Timers } from "../timers.ts";

/** How one request's wait for a lease ended. */
export type LeaseOutcome =
  | {
      readonly granted: true;
      readonly waitedMs: number;
      /** Whether it found its set full and had to wait. */
      readonly queued: boolean;
      /** Leases in the set right after this one was taken. */
      readonly held: number;
      /** Expired leases the store calls made for this request removed. */
      readonly expired: number;
    }
  | {
      readonly granted: false;
      /** `full`: no queue allowed; `timeout`: the queue timeout passed; `cancelled`: the caller gave up. */
      readonly reason: "full" | "timeout" | "cancelled";
      readonly waitedMs: number;
      readonly queued: boolean;
      readonly expired: number;
    };

/** A request waiting in a set's queue, settled once: granted, timed out, cancelled or failed. */
export interface Waiter {
  readonly request: LeaseRequest;
  readonly startedMs: number;
  /** The caller's deadline (ms since the epoch), sent with each store call made for it. */
  readonly deadlineMs: number | undefined;
  expired: number;
  settled: boolean;
  settle(outcome: LeaseOutcome | Error): void;
}

export interface JoinOptions {
  readonly request: LeaseRequest;
  readonly startedMs: number;
  /** Time left until the queue timeout, in ms. */
  readonly timeoutMs: number;
  readonly expiredSoFar: number;
  readonly signal: AbortSignal | undefined;
  readonly deadlineMs: number | undefined;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Called after a waiter left the queue on its own (timeout or cancel). */
  readonly onLeave: () => void;
}

/**
 * Appends a waiter to `waiters` and resolves with its outcome: the queue's drain settles it
 * granted (or failed); its own timer settles it as timed out, its caller's signal as cancelled.
 */
export function joinQueue(waiters: Waiter[], options: JoinOptions): Promise<LeaseOutcome> {
  const { clock, signal } = options;
  return new Promise<LeaseOutcome>((resolve, reject) => {
    const giveUp = (reason: "timeout" | "cancelled") => {
      if (waiter.settled) return;
      removeWaiter(waiters, waiter);
      waiter.settle(leftQueue(waiter, reason, clock));
      options.onLeave();
    };
    const cancelTimer = options.timers.after(options.timeoutMs, () => giveUp("timeout"));
    const onAbort = () => giveUp("cancelled");
    const waiter: Waiter = {
      request: options.request,
      startedMs: options.startedMs,
      deadlineMs: options.deadlineMs,
      expired: options.expiredSoFar,
      settled: false,
      settle(outcome) {
        if (waiter.settled) return;
        waiter.settled = true;
        cancelTimer();
        signal?.removeEventListener("abort", onAbort);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      },
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    waiters.push(waiter);
  });
}

/** The outcome of a waiter that leaves without a lease. */
export function leftQueue(waiter: Waiter, reason: "timeout" | "cancelled", clock: Clock): LeaseOutcome {
  return {
    granted: false,
    reason,
    waitedMs: clock() - waiter.startedMs,
    queued: true,
    expired: waiter.expired,
  };
}

export function removeWaiter(waiters: Waiter[], waiter: Waiter): void {
  const at = waiters.indexOf(waiter);
  if (at >= 0) waiters.splice(at, 1);
}
