import type { Clock } from "../../src/clock.ts";
import type { Timers } from "../../src/timers.ts";

/** A clock and timers that move only when a test says so. */
export interface FakeTime {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Timers not yet fired or cancelled. */
  pending(): number;
  /**
   * Moves time forward by `ms`, firing due timers in order, and lets promise chains settle before
   * and after each, so code awaiting an in-memory store runs as far as it can at each instant.
   */
  advance(ms: number): Promise<void>;
  /** Lets promise chains settle without moving time. */
  settle(): Promise<void>;
}

interface Entry {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

export function fakeTime(startMs = 1_700_000_000_000): FakeTime {
  let now = startMs;
  let seq = 0;
  const entries = new Set<Entry>();
  const settle = async () => {
    // A few macrotask turns: each lets every queued microtask (promise reaction) run.
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return {
    clock: () => now,
    timers: {
      after(ms, fn) {
        const entry = { at: now + Math.max(0, ms), seq: seq++, fn };
        entries.add(entry);
        return () => entries.delete(entry);
      },
    },
    pending: () => entries.size,
    settle,
    async advance(ms) {
      const end = now + ms;
      await settle();
      for (;;) {
        const due = [...entries].filter((e) => e.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
        if (due === undefined) break;
        entries.delete(due);
        now = due.at;
        due.fn();
        await settle();
      }
      now = end;
      await settle();
    },
  };
}
