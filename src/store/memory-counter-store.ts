import type { Clock } from "../clock.ts";
import { chargedHits, estimate, isAdmitted, windowPasses } from "../limiter/admission.ts";
import { slotTtlMs } from "./counter-key.ts";
import type {
  ChargeResult,
  CounterStore,
  DescriptorCharge,
  PeekResult,
  SlotCounts,
  SlotHits,
  WindowCounts,
} from "./counter-store.ts";

export interface MemoryCounterStoreOptions {
  readonly clock: Clock;
  /** How often expired slots are dropped, in milliseconds (reads ignore them before that). */
  readonly sweepIntervalMs?: number;
  /**
   * Counters held at most. A new counter beyond it evicts the least recently charged one, so a flood
   * of distinct keys costs bounded memory; an evicted counter starts again from 0, erring towards
   * admitting rather than growing without limit. Default DEFAULT_MAX_COUNTERS.
   */
  readonly maxCounters?: number;
  /** Called with the number of evicted counters that still held live slots. */
  readonly onEvict?: (count: number) => void;
}

/** A few hundred bytes each: about 100 MB, far more counters than one instance's traffic keeps live. */
export const DEFAULT_MAX_COUNTERS = 250_000;

/**
 * The two slots of one window of one counter that a decision can read: slot k (`current`) and
 * slot k - 1 (`previous`). Redis keeps them as two keys (counter-key.ts `slotKey`); here one object
 * per window is updated in place, so a charge allocates no key strings and no objects once the
 * counter exists (on a hot path of 10,000s of calls a second that is most of the store's cost).
 */
interface WindowSlots {
  /** Index of the newer slot, floor(t / windowMs) at its last charge. */
  k: number;
  current: number;
  /** Clock time in ms after which slot k counts as gone, like a Redis PEXPIRE. */
  currentExpiresAt: number;
  previous: number;
  previousExpiresAt: number;
}

interface WindowCheck {
  readonly slots: WindowSlots;
  readonly ttlMs: number;
  readonly limit: number;
  readonly previous: number;
  readonly passed: boolean;
}

const DEFAULT_SWEEP_INTERVAL_MS = 10_000;

/**
 * Counters in one process's memory: for a single instance, tests and development. Node runs
 * `charge` to completion without yielding, so check and accounting are atomic for free.
 * Slot lifetimes follow the Redis store exactly (counter-key.ts `slotTtlMs`), so both age alike.
 */
export class MemoryCounterStore implements CounterStore {
  readonly #clock: Clock;
  /** counterKey → windowMs → the window's slots, least recently checked first (see #check). */
  readonly #counters = new Map<string, Map<number, WindowSlots>>();
  readonly #maxCounters: number;
  readonly #onEvict: ((count: number) => void) | undefined;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: MemoryCounterStoreOptions) {
    this.#clock = options.clock;
    this.#maxCounters = options.maxCounters ?? DEFAULT_MAX_COUNTERS;
    this.#onEvict = options.onEvict;
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    // The sweeper only frees memory; it must not keep the process alive on shutdown.
    this.#sweeper.unref();
  }

  charge(descriptors: readonly DescriptorCharge[]): ChargeResult {
    const nowMs = this.#clock();
    // A counter named twice in one request (a repeated descriptor, two values of one shared pool)
    // is one set of slots: each check sees what the earlier charges of this request would add.
    const planned = descriptors.length > 1 ? new Map<WindowSlots, number>() : undefined;
    const checks = descriptors.map((d) => {
      const windows = this.#touch(d.counterKey, nowMs);
      return d.windows.map((w) => this.#check(windows, d, w.windowMs, w.limit, nowMs, planned));
    });
    const admitted = isAdmitted(
      descriptors.map((d, i) => ({ mode: d.mode, failed: (checks[i] ?? []).some((w) => !w.passed) })),
    );
    const counts = descriptors.map((d, i): WindowCounts[] => {
      const charged = d.cost > 0 && (admitted || d.countRejected);
      return (checks[i] ?? []).map((w) => ({
        current: charged
          ? add(w.slots, chargedHits(d.cost, w.limit, admitted), w.ttlMs, nowMs)
          : w.slots.current,
        previous: w.previous,
        passed: w.passed,
      }));
    });
    return { nowMs, admitted, counts };
  }

  /** Reads without #touch: a peek neither creates a counter nor saves one from eviction. */
  peek(descriptors: readonly DescriptorCharge[]): PeekResult {
    const nowMs = this.#clock();
    const counts = descriptors.map((d) => {
      const windows = this.#counters.get(d.counterKey);
      return d.windows.map((w) => slotsAt(windows?.get(w.windowMs), w.windowMs, nowMs));
    });
    return { nowMs, counts };
  }

  addHits(hits: readonly SlotHits[]): void {
    const nowMs = this.#clock();
    for (const { counterKey, windowMs, slot, hits: n } of hits) {
      const windows = this.#counters.get(counterKey);
      const slots = windows?.get(windowMs);
      // A counter evicted or swept since the refusal starts again from 0, as it would for a charge.
      if (slots === undefined) continue;
      roll(slots, Math.max(slots.k, slot), nowMs);
      if (slot === slots.k) {
        // Like the add script: INCRBY, and a lifetime only ever extended.
        slots.current += n;
        slots.currentExpiresAt = Math.max(slots.currentExpiresAt, nowMs + slotTtlMs(windowMs));
      } else if (slot === slots.k - 1) slots.previous += n;
    }
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#counters.clear();
    return Promise.resolve();
  }

  /** Drops windows whose slots have both outlived their lifetime; runs on the timer, callable from tests. */
  sweep(): void {
    const nowMs = this.#clock();
    for (const [key, windows] of this.#counters) {
      for (const [windowMs, slots] of windows) {
        if (slots.currentExpiresAt <= nowMs && slots.previousExpiresAt <= nowMs) windows.delete(windowMs);
      }
      if (windows.size === 0) this.#counters.delete(key);
    }
  }

  /** Number of counters held, live or not yet swept (for tests of the bound). */
  get counterCount(): number {
    return this.#counters.size;
  }

  /** Number of live slots held, as Redis would hold keys (for tests of expiry). */
  get size(): number {
    let slots = 0;
    for (const windows of this.#counters.values()) {
      for (const w of windows.values()) slots += (w.current > 0 ? 1 : 0) + (w.previous > 0 ? 1 : 0);
    }
    return slots;
  }

  /** The counter's windows, created if new, and marked as the most recently used counter. */
  #touch(counterKey: string, nowMs: number): Map<number, WindowSlots> {
    let windows = this.#counters.get(counterKey);
    if (windows === undefined) {
      this.#makeRoom(nowMs);
      windows = new Map();
    } else {
      // Re-inserting moves the counter to the end of the Map's order, so the front is always the
      // least recently used counter: the one #makeRoom evicts (two hash operations, no allocation).
      this.#counters.delete(counterKey);
    }
    this.#counters.set(counterKey, windows);
    return windows;
  }

  #check(
    windows: Map<number, WindowSlots>,
    d: DescriptorCharge,
    windowMs: number,
    limit: number,
    nowMs: number,
    planned: Map<WindowSlots, number> | undefined,
  ): WindowCheck {
    let slots = windows.get(windowMs);
    if (slots === undefined) {
      slots = { k: 0, current: 0, currentExpiresAt: 0, previous: 0, previousExpiresAt: 0 };
      windows.set(windowMs, slots);
    }
    roll(slots, Math.floor(nowMs / windowMs), nowMs);
    const { current, previous } = slots;
    const earlier = planned?.get(slots) ?? 0;
    planned?.set(slots, earlier + d.cost);
    const passed = windowPasses(estimate(current, previous, nowMs, windowMs) + earlier, d.cost, limit);
    return { slots, ttlMs: slotTtlMs(windowMs), limit, previous, passed };
  }

  /** Evicts least recently used counters until one more fits. */
  #makeRoom(nowMs: number): void {
    let live = 0;
    for (const [key, windows] of this.#counters) {
      if (this.#counters.size < this.#maxCounters) break;
      this.#counters.delete(key);
      for (const s of windows.values()) {
        if (s.currentExpiresAt > nowMs || s.previousExpiresAt > nowMs) {
          live++;
          break;
        }
      }
    }
    if (live > 0) this.#onEvict?.(live);
  }
}

/**
 * Brings a window's slots to slot k at `nowMs`: what was current becomes previous after one slot,
 * both are gone after two, and a slot past its lifetime reads 0 even before the sweeper runs.
 * A clock that stepped back keeps the newer slots rather than forgetting hits.
 */
function roll(slots: WindowSlots, k: number, nowMs: number): void {
  if (k === slots.k + 1) {
    slots.previous = slots.current;
    slots.previousExpiresAt = slots.currentExpiresAt;
    slots.current = 0;
    slots.currentExpiresAt = 0;
    slots.k = k;
  } else if (k > slots.k + 1) {
    slots.previous = 0;
    slots.previousExpiresAt = 0;
    slots.current = 0;
    slots.currentExpiresAt = 0;
    slots.k = k;
  }
  if (slots.currentExpiresAt <= nowMs) slots.current = 0;
  if (slots.previousExpiresAt <= nowMs) slots.previous = 0;
}

/** What `roll` would leave in the two slots at `nowMs`, without changing them. */
function slotsAt(slots: WindowSlots | undefined, windowMs: number, nowMs: number): SlotCounts {
  if (slots === undefined) return { current: 0, previous: 0 };
  const k = Math.floor(nowMs / windowMs);
  const live = (count: number, expiresAt: number) => (expiresAt <= nowMs ? 0 : count);
  // A clock that stepped back reads the newer slots, as `roll` keeps them.
  if (k <= slots.k) {
    return {
      current: live(slots.current, slots.currentExpiresAt),
      previous: live(slots.previous, slots.previousExpiresAt),
    };
  }
  if (k === slots.k + 1) return { current: 0, previous: live(slots.current, slots.currentExpiresAt) };
  return { current: 0, previous: 0 };
}

/**
 * Like the charge script's INCRBY on slot k, with its PEXPIRE when the slot starts (a slot is
 * charged only during its own window, so a lifetime from its first charge covers its last read):
 * returns the count after adding (which includes an earlier descriptor's charge to the same counter
 * in this request, as in Redis).
 */
function add(slots: WindowSlots, cost: number, ttlMs: number, nowMs: number): number {
  if (slots.current === 0) slots.currentExpiresAt = nowMs + ttlMs;
  slots.current += cost;
  return slots.current;
}
