import type { Clock } from "../clock.ts";
import { estimate, isAdmitted, windowPasses } from "../limiter/admission.ts";
import { slotKey, slotTtlMs } from "./counter-key.ts";
import type { ChargeResult, CounterStore, DescriptorCharge, WindowCounts } from "./counter-store.ts";

export interface MemoryCounterStoreOptions {
  readonly clock: Clock;
  /** How often expired slots are dropped, in milliseconds (reads ignore them before that). */
  readonly sweepIntervalMs?: number;
}

interface Slot {
  count: number;
  /** Clock time in ms after which the slot counts as gone, like a Redis PEXPIRE. */
  expiresAt: number;
}

interface WindowCheck {
  readonly key: string;
  readonly ttlMs: number;
  readonly current: number;
  readonly previous: number;
  readonly passed: boolean;
}

const DEFAULT_SWEEP_INTERVAL_MS = 10_000;

/**
 * Counters in one process's memory: for a single instance, tests and development. Node runs
 * `charge` to completion without yielding, so check and accounting are atomic for free.
 * Slot keys and lifetimes follow the Redis store exactly (counter-key.ts), so both age alike.
 */
export class MemoryCounterStore implements CounterStore {
  readonly #clock: Clock;
  readonly #slots = new Map<string, Slot>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: MemoryCounterStoreOptions) {
    this.#clock = options.clock;
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    // The sweeper only frees memory; it must not keep the process alive on shutdown.
    this.#sweeper.unref();
  }

  charge(descriptors: readonly DescriptorCharge[]): Promise<ChargeResult> {
    const nowMs = this.#clock();
    const checks = descriptors.map((d) => d.windows.map((w) => this.#check(d, w.windowMs, w.limit, nowMs)));
    const admitted = isAdmitted(
      descriptors.map((d, i) => ({ mode: d.mode, failed: (checks[i] ?? []).some((w) => !w.passed) })),
    );
    const counts = descriptors.map((d, i): WindowCounts[] => {
      const charged = d.cost > 0 && (admitted || d.countRejected);
      return (checks[i] ?? []).map((w) => ({
        current: charged ? this.#add(w.key, d.cost, nowMs + w.ttlMs, nowMs) : w.current,
        previous: w.previous,
        passed: w.passed,
      }));
    });
    return Promise.resolve({ nowMs, admitted, counts });
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#slots.clear();
    return Promise.resolve();
  }

  /** Drops slots whose lifetime has passed; runs on the timer, callable directly from tests. */
  sweep(): void {
    const nowMs = this.#clock();
    for (const [key, slot] of this.#slots) {
      if (slot.expiresAt <= nowMs) this.#slots.delete(key);
    }
  }

  /** Number of live slot entries held (for tests of expiry). */
  get size(): number {
    return this.#slots.size;
  }

  #check(d: DescriptorCharge, windowMs: number, limit: number, nowMs: number): WindowCheck {
    const k = Math.floor(nowMs / windowMs);
    const key = slotKey(d.counterKey, windowMs, k);
    const current = this.#read(key, nowMs);
    const previous = this.#read(slotKey(d.counterKey, windowMs, k - 1), nowMs);
    const passed = windowPasses(estimate(current, previous, nowMs, windowMs), d.cost, limit);
    return { key, ttlMs: slotTtlMs(windowMs), current, previous, passed };
  }

  #read(key: string, nowMs: number): number {
    const slot = this.#slots.get(key);
    return slot !== undefined && slot.expiresAt > nowMs ? slot.count : 0;
  }

  /** Like INCRBY then PEXPIRE: returns the count after adding. */
  #add(key: string, cost: number, expiresAt: number, nowMs: number): number {
    const count = this.#read(key, nowMs) + cost;
    this.#slots.set(key, { count, expiresAt });
    return count;
  }
}
