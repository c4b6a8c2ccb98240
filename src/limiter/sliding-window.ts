import { estimate, windowPasses } from "./admission.ts";

/**
 * Sliding-window arithmetic for one window, from its counters as they stand after a request's
 * accounting. Pure: the instant is an input, so every figure is testable without a clock.
 *
 * Every answer here is checked against `windowPasses`, the predicate the stores decide with,
 * rather than against exact rational arithmetic: what a client is told (remaining, Retry-After)
 * must agree with what the store will actually do, floating point included.
 */
export interface WindowState {
  /** c: hits in the current slot k = floor(t / W). */
  readonly current: number;
  /** p: hits in slot k − 1. */
  readonly previous: number;
  /** t: the decision instant, ms since the epoch. */
  readonly nowMs: number;
  /** W: window length in ms (a whole number of seconds). */
  readonly windowMs: number;
  /** L: hits allowed per window. */
  readonly limit: number;
}

/** End of the current slot, (k + 1)·W, in ms since the epoch. */
export function slotEndMs(nowMs: number, windowMs: number): number {
  return (Math.floor(nowMs / windowMs) + 1) * windowMs;
}

/** (k + 1)·W − t: ms until the current slot ends and the estimate starts shedding this slot's hits. */
export function msUntilSlotEnd(nowMs: number, windowMs: number): number {
  return slotEndMs(nowMs, windowMs) - nowMs;
}

/** E at the decision instant. */
export function currentEstimate(state: WindowState): number {
  return estimate(state.current, state.previous, state.nowMs, state.windowMs);
}

/**
 * max(0, floor(L − E)), taken as the largest r ≥ 0 that `windowPasses(E, r, L)` accepts, so a
 * request of cost `remaining` is admitted even when E carries floating-point noise (16.999… or 17.000…1).
 */
export function remainingHits(estimated: number, limit: number): number {
  let r = Math.max(0, Math.floor(limit - estimated));
  if (windowPasses(estimated, r + 1, limit)) r++;
  while (r > 0 && !windowPasses(estimated, r, limit)) r--;
  return r;
}

/**
 * The estimate at a later instant if nothing else arrives: in slot k it decays as p·(1 − f) + c;
 * in slot k + 1 this slot's hits become the previous ones, c·(1 − f); from slot k + 2 on it is 0.
 */
export function projectedEstimate(state: WindowState, atMs: number): number {
  const { current, previous, nowMs, windowMs } = state;
  const slotsAhead = Math.floor(atMs / windowMs) - Math.floor(nowMs / windowMs);
  if (slotsAhead <= 0) return estimate(current, previous, atMs, windowMs);
  if (slotsAhead === 1) return estimate(0, current, atMs, windowMs);
  return 0;
}

/** Whether a request of cost h would pass this window at `atMs` if nothing else arrived. */
export function passesAt(state: WindowState, cost: number, atMs: number): boolean {
  return windowPasses(projectedEstimate(state, atMs), cost, state.limit);
}

/**
 * Whole seconds (≥ 1, rounded up) until the same request (cost h) would pass this window if nothing
 * else arrived; `undefined` when h > L, since no wait can make it pass.
 *
 * Closed form, with x = t mod W:
 * - c + h ≤ L: the request passes later in slot k, once p·(1 − f') + c + h ≤ L,
 *   i.e. at x' = W − (L − c − h)·W / p;
 * - c + h > L: it has to wait for slot k + 1, until c·(1 − f'') + h ≤ L,
 *   i.e. at W − (L − h)·W / c into that slot (reaching slot k + 2, where E = 0, when h = L).
 * The rounded result is then nudged against `passesAt` so that the request passes at
 * t + s seconds and, when s > 1, does not at t + (s − 1) seconds, whatever the rounding of E.
 */
export function retryAfterSeconds(state: WindowState, cost: number): number | undefined {
  const { current: c, previous: p, nowMs, windowMs: w, limit } = state;
  if (cost > limit) return undefined;
  const x = nowMs % w;
  let waitMs: number;
  if (c + cost <= limit) {
    waitMs = p === 0 ? 0 : w - ((limit - c - cost) * w) / p - x;
  } else {
    waitMs = 2 * w - x - ((limit - cost) * w) / c;
  }
  let seconds = Math.max(1, Math.ceil(waitMs / 1000));
  // Terminates: from slot k + 2 on E = 0, and 0 + h ≤ L here. The closed form is off by at most one
  // step, and only where the boundary falls on a whole second, so these loops run once or not at all.
  while (!passesAt(state, cost, nowMs + seconds * 1000)) seconds++;
  while (seconds > 1 && passesAt(state, cost, nowMs + (seconds - 1) * 1000)) seconds--;
  return seconds;
}
