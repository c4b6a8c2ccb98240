import { setTimeout as sleep } from "node:timers/promises";

/**
 * Waits out the last seconds of a minute, so a short burst whose expected figures assume one
 * minute slot (no hits carried over from the previous slot) does not straddle a slot boundary.
 */
export async function awayFromMinuteEnd(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 100);
}
