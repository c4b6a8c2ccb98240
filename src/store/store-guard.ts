import type { Clock } from "../clock.ts";
import { type BreakerState, type CircuitBreaker, createCircuitBreaker } from "./circuit-breaker.ts";
import { StoreError } from "./counter-store.ts";

/** Why the guard answered without the store's verdict. */
export type GuardReason = "circuit_open" | "overloaded" | "timeout";

/** The guard gave up on the store for this call; always transient, so the failure policy decides. */
export class StoreGuardError extends StoreError {
  readonly reason: GuardReason;
  constructor(reason: GuardReason, message: string) {
    super(message, { transient: true });
    this.name = "StoreGuardError";
    this.reason = reason;
  }
}

/** The metrics label for why a call had no verdict from the store. */
export function fallbackReason(error: unknown): GuardReason | "error" {
  return error instanceof StoreGuardError ? error.reason : "error";
}

/** The protection every remote store call gets, counters and leases alike. */
export interface StoreGuardSettings {
  /** Longest wait for one call, in ms; a call's own deadline can shorten it. */
  readonly timeoutMs: number;
  /** Calls sent and not yet settled; beyond this, calls are shed instead of queued. */
  readonly maxInFlight: number;
  /** Consecutive transient failures that open a partition's circuit. Default 5. */
  readonly failureThreshold?: number;
  /** How long an open circuit waits before one probe, in ms. Default 250. */
  readonly openMs?: number;
  readonly clock: Clock;
  readonly onCircuitChange?: (partition: string, from: BreakerState, to: BreakerState) => void;
}

export interface StoreGuard {
  /**
   * Runs `invoke` unless the deadline has passed, `maxInFlight` calls are outstanding or a
   * partition's circuit refuses; each refusal is a StoreGuardError. Waits at most the budget.
   */
  call<T>(
    partitions: Iterable<string>,
    deadlineMs: number | undefined,
    invoke: () => T | Promise<T>,
    timeoutMessage: string,
  ): Promise<T>;
  /** Partitions whose circuit is not closed (for the metrics gauge). */
  openCircuits(): number;
}

const DEFAULT_FAILURE_THRESHOLD = 5;
/**
 * Silence shorter than this, in ms, is no evidence: a Redis answering in 10–50 ms under load is slow,
 * not failing, and a call whose deadline left it less than this would count such a node as failing.
 */
const MIN_SILENCE_MS = 100;
const DEFAULT_OPEN_MS = 250;

/**
 * The admission shared by guardCounterStore and guardLeaseStore: a per-call budget, a bound on
 * calls in flight, and a circuit breaker per partition (Redis node). `name` starts its messages.
 */
export function createStoreGuard(name: string, settings: StoreGuardSettings): StoreGuard {
  const { timeoutMs, maxInFlight, clock } = settings;
  // How long a node must have been silent towards a call before its timeout counts as a failure.
  const minSilenceMs = Math.min(timeoutMs, MIN_SILENCE_MS);
  const partitions = new Map<string, Partition>();
  let inFlight = 0;

  const partitionFor = (id: string): Partition => {
    let partition = partitions.get(id);
    if (partition === undefined) {
      const breaker = createCircuitBreaker({
        failureThreshold: settings.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD,
        openMs: settings.openMs ?? DEFAULT_OPEN_MS,
        clock,
        onStateChange: (from, to) => settings.onCircuitChange?.(id, from, to),
      });
      partition = { breaker, replies: 0 };
      partitions.set(id, partition);
    }
    return partition;
  };

  /** Every partition of the call lets it through, or none keeps a probe slot it took. */
  const acquire = (ids: Iterable<string>): Sent[] | undefined => {
    const taken: Sent[] = [];
    for (const id of ids) {
      const partition = partitionFor(id);
      if (!partition.breaker.tryAcquire()) {
        for (const t of taken) t.partition.breaker.release();
        return undefined;
      }
      taken.push({ partition, repliesAtSend: partition.replies });
    }
    return taken;
  };

  /** The store answered (a result or an error reply): each partition shows it is alive. */
  const answered = (taken: readonly Sent[]) => {
    for (const t of taken) {
      t.partition.replies++;
      t.partition.breaker.recordSuccess();
    }
  };

  /**
   * The call got no answer (a timeout, a lost connection). It counts against a partition only if
   * that partition answered nothing at all since the call was sent: a node that keeps answering other
   * calls is alive, and this call merely waited behind them — in the process's own queue, behind a
   * busy event loop, or in Redis's pipeline. Only silence is evidence that the node is failing.
   */
  const unanswered = (taken: readonly Sent[]) => {
    for (const t of taken) {
      if (t.partition.replies === t.repliesAtSend) t.partition.breaker.recordFailure();
    }
  };

  return {
    call(ids, deadlineMs, invoke, timeoutMessage) {
      const budgetMs = Math.min(timeoutMs, (deadlineMs ?? Infinity) - clock());
      if (budgetMs <= 0) {
        return Promise.reject(new StoreGuardError("timeout", `${name}: the call's deadline has passed`));
      }
      if (inFlight >= maxInFlight) {
        return Promise.reject(
          new StoreGuardError("overloaded", `${name}: ${inFlight} calls in flight, shedding`),
        );
      }
      const taken = acquire(ids);
      if (taken === undefined) {
        return Promise.reject(
          new StoreGuardError("circuit_open", `${name}: circuit open after repeated failures`),
        );
      }
      inFlight++;
      // One outcome per call for the breaker: the store's answer, or silence when this call stops
      // waiting (whichever comes first). The store's own command timeout is a backstop past
      // `timeoutMs`, so the in-flight count still falls when a silent store finally fails the call.
      let recorded = false;
      const pending = Promise.resolve(invoke()).then(
        (result) => {
          inFlight--;
          answered(taken);
          recorded = true;
          return result;
        },
        (error: unknown) => {
          inFlight--;
          // An error reply (a script error, WRONGTYPE, a slot being migrated) means the store was reachable.
          if (error instanceof StoreError && error.reachable) answered(taken);
          else if (!recorded) unanswered(taken);
          recorded = true;
          throw error;
        },
      );
      return withTimeout(pending, budgetMs, timeoutMessage, () => {
        // A call left only a sliver of its deadline (a lease request that queued, say) says nothing
        // by timing out: its outcome is left to the store's own answer or command timeout.
        if (recorded || budgetMs < minSilenceMs) return;
        recorded = true;
        unanswered(taken);
      });
    },
    openCircuits() {
      let open = 0;
      for (const { breaker } of partitions.values()) if (breaker.state() !== "closed") open++;
      return open;
    },
  };
}

/** One independently failing part of the store (a Redis node): its circuit and its answers so far. */
interface Partition {
  readonly breaker: CircuitBreaker;
  /** Calls this partition has answered, counted to tell a silent node from a busy one. */
  replies: number;
}

/** A partition a call was sent to, with its answer count at that moment. */
interface Sent {
  readonly partition: Partition;
  readonly repliesAtSend: number;
}

/**
 * Rejects with a timeout unless `promise` settles within `ms`. The rejection waits for setImmediate,
 * which runs after the event loop's I/O phase: when the loop was blocked past the deadline, a reply
 * that arrived meanwhile is read first and wins, so a busy process does not mistake its own lag for a
 * slow store. (The store's own command timeout is longer, a backstop, for the same reason.)
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  message: string,
  onTimeout?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          onTimeout?.();
          reject(new StoreGuardError("timeout", message));
        }),
      ms,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
