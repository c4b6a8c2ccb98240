import type { Clock } from "../clock.ts";
import type {
  LeaseCallOptions,
  LeaseGrant,
  LeaseRelease,
  LeaseRequest,
  LeaseStore,
} from "../store/lease-store.ts";
import type { Timers } from "../timers.ts";
import { joinQueue, type LeaseOutcome, leftQueue, removeWaiter, type Waiter } from "./lease-waiter.ts";

export type { LeaseOutcome } from "./lease-waiter.ts";

export interface LeaseQueueOptions {
  readonly store: LeaseStore;
  readonly clock: Clock;
  readonly timers: Timers;
  /**
   * Longest a queued request goes without asking the store again when no release notice arrives,
   * in ms: the bound on waiting for a slot whose notice was lost (pub/sub is at-most-once).
   */
  readonly retryIntervalMs: number;
}

export interface QueueOptions {
  /** How long to wait for a slot, in ms; 0 refuses at once when the set is full. */
  readonly queueTimeoutMs: number;
  /** Aborted when the caller stops waiting (the gRPC call was cancelled). */
  readonly signal?: AbortSignal | undefined;
  /**
   * The caller's deadline, in ms since the epoch, sent with every store call made for the request:
   * a guarded store waits no longer, and the store refuses an acquire that runs after it.
   */
  readonly deadlineMs?: number | undefined;
}

export interface LeaseQueue {
  /** Takes a lease, waiting up to the queue timeout for one to free. Rejects with the store's error. */
  acquire(request: LeaseRequest, options: QueueOptions): Promise<LeaseOutcome>;
  /** Gives a lease back and lets this instance's waiters for the set try at once. */
  release(key: string, leaseId: string, options?: LeaseCallOptions): Promise<LeaseRelease>;
  /** Settles every waiter as cancelled and stops listening. */
  close(): void;
}

/** Per lease set: its waiters in arrival order and whether someone is asking the store for them. */
interface SetQueue {
  readonly waiters: Waiter[];
  /** Store calls made outside the drain (first tries) that have not answered yet. */
  firstTries: number;
  draining: boolean;
  /** A release notice arrived while draining: go round again. */
  again: boolean;
  /** Counts release notices, so a first try can tell whether one arrived while it was asking. */
  notices: number;
  cancelRetry: (() => void) | undefined;
}

/**
 * The waiting room in front of a LeaseStore. A request whose set is full waits in arrival order
 * (per instance; instances do not share one order) until a slot frees or its queue timeout
 * passes. Waiters ask the store again:
 * - at once when a release notice for their set arrives (this instance's own releases, and other
 *   instances' through the store's pub/sub);
 * - when the set's earliest lease expires (a lost release reclaimed);
 * - at the latest every `retryIntervalMs`, in case a notice was lost.
 * Only the head of a set's queue asks; when it gets a lease, the next one asks at once, so a
 * burst of freed slots is handed out in order. The store's atomic acquire keeps the count exact
 * whatever the interleaving; this queue only decides who asks when.
 */
export function createLeaseQueue(options: LeaseQueueOptions): LeaseQueue {
  const { store, clock, timers } = options;
  const sets = new Map<string, SetQueue>();

  const unsubscribe = store.onRelease((key) => {
    const set = sets.get(key);
    if (set === undefined) return;
    set.notices++;
    if (set.waiters.length > 0) void drain(key, set);
  });

  function setFor(key: string): SetQueue {
    let set = sets.get(key);
    if (set === undefined) {
      set = { waiters: [], firstTries: 0, draining: false, again: false, notices: 0, cancelRetry: undefined };
      sets.set(key, set);
    }
    return set;
  }

  function forgetIfIdle(key: string, set: SetQueue): void {
    if (set.waiters.length > 0 || set.firstTries > 0 || set.draining) return;
    set.cancelRetry?.();
    if (sets.get(key) === set) sets.delete(key);
  }

  function scheduleRetry(key: string, set: SetQueue, nextExpiryMs: number | undefined): void {
    set.cancelRetry?.();
    // One ms past the expiry instant: a lease is expired once its instant has come.
    const delay = Math.min(options.retryIntervalMs, nextExpiryMs === undefined ? Infinity : nextExpiryMs + 1);
    set.cancelRetry = timers.after(delay, () => {
      set.cancelRetry = undefined;
      void drain(key, set);
    });
  }

  /** Gives back a lease granted to a waiter that meanwhile gave up; the release wakes the next one. */
  function giveBack(key: string, leaseId: string): void {
    store.release(key, leaseId).catch(() => {
      // The store retries it once it answers again, or the lease expires after its ttl.
    });
  }

  async function drain(key: string, set: SetQueue): Promise<void> {
    if (set.draining) {
      set.again = true;
      return;
    }
    set.draining = true;
    set.cancelRetry?.();
    set.cancelRetry = undefined;
    let nextExpiryMs: number | undefined;
    try {
      do {
        set.again = false;
        while (set.waiters.length > 0) {
          const head = set.waiters[0] as Waiter;
          let grant: LeaseGrant;
          try {
            grant = await store.acquire(head.request, { deadlineMs: head.deadlineMs });
          } catch (error: unknown) {
            removeWaiter(set.waiters, head);
            head.settle(error instanceof Error ? error : new Error(String(error)));
            continue;
          }
          head.expired += grant.expired;
          if (grant.late) {
            // Its caller's deadline passed by the store's clock (ours may lag it): it leaves.
            removeWaiter(set.waiters, head);
            head.settle(leftQueue(head, "timeout", clock));
            continue;
          }
          if (!grant.granted) {
            nextExpiryMs = grant.nextExpiryMs;
            // A head that gave up meanwhile has left the queue; the next one asks for itself.
            if (!head.settled) break;
            continue;
          }
          if (head.settled) {
            giveBack(key, head.request.leaseId);
            continue;
          }
          removeWaiter(set.waiters, head);
          head.settle(granted(head, grant, true));
        }
      } while (set.again);
    } finally {
      set.draining = false;
    }
    if (set.waiters.length > 0) scheduleRetry(key, set, nextExpiryMs);
    else forgetIfIdle(key, set);
  }

  function granted(waiter: Waiter, grant: LeaseGrant, queued: boolean): LeaseOutcome {
    return {
      granted: true,
      waitedMs: clock() - waiter.startedMs,
      queued,
      held: grant.held,
      expired: waiter.expired,
    };
  }

  async function acquire(request: LeaseRequest, queue: QueueOptions): Promise<LeaseOutcome> {
    const startedMs = clock();
    const refused = (
      reason: "full" | "timeout" | "cancelled",
      expired: number,
      queued = false,
    ): LeaseOutcome => ({
      granted: false,
      reason,
      waitedMs: clock() - startedMs,
      queued,
      expired,
    });
    if (queue.signal?.aborted) return refused("cancelled", 0);
    const set = setFor(request.key);
    let expired = 0;

    // Nobody is waiting here: ask at once, without joining (and so serialising behind) a queue.
    if (set.waiters.length === 0) {
      const noticesBefore = set.notices;
      set.firstTries++;
      let grant: LeaseGrant;
      try {
        grant = await store.acquire(request, { deadlineMs: queue.deadlineMs });
      } catch (error: unknown) {
        set.firstTries--;
        forgetIfIdle(request.key, set);
        throw error;
      }
      set.firstTries--;
      expired = grant.expired;
      if (grant.granted) {
        forgetIfIdle(request.key, set);
        if (queue.signal?.aborted) {
          giveBack(request.key, request.leaseId);
          return refused("cancelled", expired);
        }
        return { granted: true, waitedMs: clock() - startedMs, queued: false, held: grant.held, expired };
      }
      const remaining = startedMs + queue.queueTimeoutMs - clock();
      if (remaining <= 0 || queue.signal?.aborted || grant.late) {
        forgetIfIdle(request.key, set);
        return refused(
          queue.signal?.aborted ? "cancelled" : queue.queueTimeoutMs > 0 ? "timeout" : "full",
          expired,
        );
      }
      const outcome = wait(request, set, startedMs, remaining, expired, queue);
      // A slot freed while we were asking: its notice found no waiter, so ask again now.
      if (set.notices !== noticesBefore) void drain(request.key, set);
      else if (!set.draining) scheduleRetry(request.key, set, grant.nextExpiryMs);
      return outcome;
    }

    const remaining = startedMs + queue.queueTimeoutMs - clock();
    if (remaining <= 0) return refused(queue.queueTimeoutMs > 0 ? "timeout" : "full", expired);
    return wait(request, set, startedMs, remaining, expired, queue);
  }

  /** Joins the set's queue until granted (by `drain`), timed out or cancelled. */
  function wait(
    request: LeaseRequest,
    set: SetQueue,
    startedMs: number,
    timeoutMs: number,
    expiredSoFar: number,
    queue: QueueOptions,
  ): Promise<LeaseOutcome> {
    return joinQueue(set.waiters, {
      request,
      startedMs,
      timeoutMs,
      expiredSoFar,
      signal: queue.signal,
      deadlineMs: queue.deadlineMs,
      clock,
      timers,
      onLeave: () => forgetIfIdle(request.key, set),
    });
  }

  async function release(key: string, leaseId: string, options?: LeaseCallOptions): Promise<LeaseRelease> {
    const result = await store.release(key, leaseId, options);
    // The store notifies every instance, this one included; asking here as well spares the local
    // waiters the pub/sub round trip.
    const set = sets.get(key);
    if (set !== undefined && (result.released || result.expired > 0)) {
      set.notices++;
      if (set.waiters.length > 0) void drain(key, set);
    }
    return result;
  }

  function close(): void {
    unsubscribe();
    for (const [key, set] of sets) {
      for (const waiter of set.waiters.splice(0)) waiter.settle(leftQueue(waiter, "cancelled", clock));
      forgetIfIdle(key, set);
    }
  }

  return { acquire, release, close };
}
