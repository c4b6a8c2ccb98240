import type { Clock } from "../clock.ts";
import type { Timers } from "../timers.ts";
import { transientStoreError } from "./counter-store.ts";
import type { LeaseStore } from "./lease-store.ts";
import { fallbackReason } from "./store-guard.ts";

/** Why a failed release was given up on: too many waiting, too old, or refused by the store. */
export type DroppedReleaseReason = "full" | "age" | "rejected";

export interface RetriedReleasesOptions {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Pause between retry rounds while releases wait, in ms. */
  readonly retryIntervalMs: number;
  /** Failed releases kept at most; a failure beyond is dropped (`full`). */
  readonly maxPending: number;
  /**
   * Longest a failed release is retried, in ms from its first failure (`age` beyond): past a
   * lease's ttl the store has reclaimed it anyway.
   */
  readonly maxAgeMs: number;
  /** Told of each release given up on (metrics). */
  readonly onDropped?: ((reason: DroppedReleaseReason) => void) | undefined;
}

interface PendingRelease {
  readonly key: string;
  readonly leaseId: string;
  readonly firstFailedMs: number;
}

/**
 * Releases that failed transiently (Redis paused, down, its circuit open) are kept and sent again
 * once the store answers, instead of leaving their leases held until lease_ttl. So is a release for
 * each acquire that was sent but not answered in time: a paused Redis runs it when it resumes, and
 * the lease it may take then belongs to a caller already answered without it. The caller still
 * sees the failure: Envoy does not act on a stream-done answer, and the failure policy is reported.
 *
 * A retry round starts every `retryIntervalMs` while releases wait, and at once after any call
 * succeeds. It sends the oldest release first and stops at its first transient failure, so an
 * outage costs one store call per round, not one per waiting release. Releasing is idempotent
 * (an id no longer held removes nothing), so a release that did reach the store before failing
 * its caller's wait does no harm when sent again.
 */
/** A transient failure after the call was sent (not refused by the guard before sending). */
function mayHaveRun(error: unknown): boolean {
  if (transientStoreError(error) === undefined) return false;
  const reason = fallbackReason(error);
  return reason === "timeout" || reason === "error";
}

export function retryFailedReleases(store: LeaseStore, options: RetriedReleasesOptions): LeaseStore {
  const { clock, timers } = options;
  const pending = new Map<string, PendingRelease>();
  let cancelTimer: (() => void) | undefined;
  let retrying = false;
  let closed = false;

  const drop = (reason: DroppedReleaseReason) => options.onDropped?.(reason);

  const remember = (key: string, leaseId: string): void => {
    const id = `${key}\n${leaseId}`;
    if (pending.has(id)) return;
    if (pending.size >= options.maxPending) return drop("full");
    pending.set(id, { key, leaseId, firstFailedMs: clock() });
    schedule();
  };

  const schedule = (): void => {
    if (closed || cancelTimer !== undefined || pending.size === 0) return;
    cancelTimer = timers.after(options.retryIntervalMs, () => {
      cancelTimer = undefined;
      void retry();
    });
  };

  /** One round: the waiting releases in the order they failed, until one fails again. */
  const retry = async (): Promise<void> => {
    if (retrying || closed) return;
    retrying = true;
    try {
      for (const [id, release] of pending) {
        if (closed) return;
        if (clock() - release.firstFailedMs > options.maxAgeMs) {
          pending.delete(id);
          drop("age");
          continue;
        }
        try {
          await store.release(release.key, release.leaseId);
          pending.delete(id);
        } catch (error: unknown) {
          if (transientStoreError(error) !== undefined) break;
          pending.delete(id);
          drop("rejected");
        }
      }
    } finally {
      retrying = false;
      schedule();
    }
  };

  /** A call the store answered: it is back, so waiting releases need not wait for the timer. */
  const answered = <T>(result: T): T => {
    if (pending.size > 0) void retry();
    return result;
  };

  return {
    acquire: (request, call) =>
      store.acquire(request, call).then(answered, (error: unknown) => {
        // Sent but not answered in time: it may yet run and take a lease its caller, answered
        // without it, will never give back. Releasing an id not held removes nothing.
        if (mayHaveRun(error)) remember(request.key, request.leaseId);
        throw error;
      }),
    async release(key, leaseId, call) {
      try {
        return answered(await store.release(key, leaseId, call));
      } catch (error: unknown) {
        if (transientStoreError(error) !== undefined) remember(key, leaseId);
        throw error;
      }
    },
    // A count changes nothing to retry; an answer still shows the store is back.
    held: (key, call) => store.held(key, call).then(answered),
    onRelease: (listener) => store.onRelease(listener),
    close() {
      closed = true;
      cancelTimer?.();
      pending.clear();
      return store.close();
    },
  };
}
