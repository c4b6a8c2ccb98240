import { counterKey } from "../../src/store/counter-key.ts";
import type {
  ChargeResult,
  CounterStore,
  DescriptorCharge,
  DescriptorMode,
} from "../../src/store/counter-store.ts";

/**
 * A reproducible stream of requests for comparing stores: counters behave like policy rules (fixed
 * mode, windows, limits and countRejected), requests pick a few of them with varied costs. Windows
 * are an hour or a day with small limits, so the stream refuses often and its answers do not depend
 * on when it runs, as long as it stays inside one hour slot (see `sameSlot`).
 */

export const STREAM_WINDOW_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** xorshift32: a tiny seeded generator, so a failing stream can be replayed from its seed. */
function generator(seed: number): (n: number) => number {
  let state = seed >>> 0 || 1;
  return (n) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
}

export interface StreamOptions {
  readonly seed: number;
  readonly requests: number;
  readonly counters: number;
  /** Makes the counter ids unique to one run, so reruns against the same Redis start fresh. */
  readonly runId: string;
}

export function requestStream(options: StreamOptions): DescriptorCharge[][] {
  const pick = generator(options.seed);
  const modes: DescriptorMode[] = ["enforced", "enforced", "enforced", "shadow"];
  const counters = Array.from({ length: options.counters }, (_, n): Omit<DescriptorCharge, "cost"> => {
    const hour = { windowMs: STREAM_WINDOW_MS, limit: 3 + pick(10) };
    const day = { windowMs: DAY_MS, limit: hour.limit + pick(6) };
    return {
      counterKey: counterKey(`stream:${options.runId}:${n}`),
      mode: modes[pick(modes.length)] ?? "enforced",
      countRejected: pick(3) === 0,
      windows: pick(2) === 0 ? [hour] : [hour, day],
    };
  });
  const costs = [0, 1, 1, 1, 2, 3];
  return Array.from({ length: options.requests }, () => {
    const chosen = new Set<number>();
    const size = 1 + pick(4);
    while (chosen.size < size) chosen.add(pick(counters.length));
    return [...chosen].map((n) => ({
      ...(counters[n] as DescriptorCharge),
      cost: costs[pick(costs.length)] ?? 1,
    }));
  });
}

/** Sends the requests one after another (order matters for the answers). */
export async function runStream(
  store: CounterStore,
  requests: DescriptorCharge[][],
): Promise<ChargeResult[]> {
  const results: ChargeResult[] = [];
  for (const request of requests) results.push(await store.charge(request));
  return results;
}

/** The answers without the clock, for comparing stores. */
export function answers(results: readonly ChargeResult[]): Omit<ChargeResult, "nowMs">[] {
  return results.map(({ admitted, counts }) => ({ admitted, counts }));
}

/** Whether every answer came from one slot of `windowMs` (no boundary crossed mid-stream). */
export function sameSlot(results: readonly ChargeResult[], windowMs: number): boolean {
  const slots = new Set(results.map((r) => Math.floor(r.nowMs / windowMs)));
  return slots.size <= 1;
}
