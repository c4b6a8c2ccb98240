import { describe, expect, it } from "vitest";
import { counterKey } from "../store/counter-key.ts";
import type { DescriptorCharge, DescriptorMode } from "../store/counter-store.ts";
import { MemoryCounterStore } from "../store/memory-counter-store.ts";
import { projectCharge } from "./project-charge.ts";

const T0 = 1_700_006_400_000;
const MODES: DescriptorMode[] = ["enforced", "enforced", "shadow"];

/** A deterministic pseudo-random stream (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("projectCharge", () => {
  it("answers what the memory store's charge answers at the same instant, for a long mixed stream", () => {
    let now = T0;
    const store = new MemoryCounterStore({ clock: () => now });
    const next = random(20231115);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    const counters = ["a", "b", "c"].map((id) => counterKey(`project:${id}`));
    let refused = 0;
    for (let n = 0; n < 500; n++) {
      now += Math.floor(next() * 4000);
      const charges: DescriptorCharge[] = Array.from({ length: 1 + Math.floor(next() * 3) }, () => ({
        // Few counters, so a call often names one twice.
        counterKey: pick(counters),
        mode: pick(MODES),
        cost: pick([0, 1, 1, 2, 7]),
        countRejected: next() < 0.5,
        windows: [
          { windowMs: 1000, limit: pick([3, 5]) },
          { windowMs: 60_000, limit: pick([20, 40]) },
        ],
      }));
      const projected = projectCharge(charges, store.peek(charges));
      const charged = store.charge(charges);
      expect(projected).toEqual(charged);
      if (!charged.admitted) refused++;
    }
    // The stream must exercise refusals as well as admissions.
    expect(refused).toBeGreaterThan(50);
    expect(refused).toBeLessThan(450);
    void store.close();
  });
});
