import type { CounterStore, SlotHits } from "../store/counter-store.ts";

/**
 * Hits of refused calls that the local over-limit cache answered without the store, summed per slot
 * key until they are written (`startRefusedHitsFlush`). A client retrying in a tight loop costs one
 * store write per counter and window per flush instead of one round trip per call, and still counts.
 */
export interface RefusedHits {
  /** Adds `hits` to slot `slot` of the counter's window. */
  add(counterKey: string, windowMs: number, slot: number, hits: number): void;
  /** Everything added since the last take, one entry per slot; empties the accumulator. */
  take(): SlotHits[];
  /** Slots with hits not yet taken. */
  readonly size: number;
}

export function createRefusedHits(): RefusedHits {
  let pending = new Map<string, { counterKey: string; windowMs: number; slot: number; hits: number }>();
  return {
    add(counterKey, windowMs, slot, hits) {
      const key = `${counterKey} ${windowMs} ${slot}`;
      const known = pending.get(key);
      if (known === undefined) pending.set(key, { counterKey, windowMs, slot, hits });
      else known.hits += hits;
    },
    take() {
      if (pending.size === 0) return [];
      const taken = [...pending.values()];
      pending = new Map();
      return taken;
    },
    get size() {
      return pending.size;
    },
  };
}

export interface RefusedHitsFlushOptions {
  readonly hits: RefusedHits;
  readonly store: Pick<CounterStore, "addHits">;
  /** How long refused hits may wait before they are written, in ms: the bound on how long other instances miss them. */
  readonly intervalMs: number;
  /** Hits that could not be written (the store failed); they are not retried. */
  readonly onDropped?: (slots: number, error: unknown) => void;
}

export interface RefusedHitsFlush {
  /** Writes what is pending now; resolves once the store has answered. */
  flush(): Promise<void>;
  /** Stops the timer after a last flush. */
  close(): Promise<void>;
}

/**
 * Writes the accumulated refused hits every `intervalMs`. A failed write is reported and dropped:
 * the hits were refused either way, and a store that is down cannot take them; the error is on the
 * side of a shorter Retry-After, never of admitting a call the policy refuses.
 */
export function startRefusedHitsFlush(options: RefusedHitsFlushOptions): RefusedHitsFlush {
  const { hits, store } = options;
  const flush = async (): Promise<void> => {
    const taken = hits.take();
    if (taken.length === 0) return;
    try {
      await store.addHits(taken);
    } catch (error: unknown) {
      options.onDropped?.(taken.length, error);
    }
  };
  const timer = setInterval(() => void flush(), options.intervalMs);
  // Only a last flush on close matters at shutdown; the timer must not keep the process alive.
  timer.unref();
  return {
    flush,
    close() {
      clearInterval(timer);
      return flush();
    },
  };
}
