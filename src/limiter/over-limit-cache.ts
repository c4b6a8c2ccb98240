import type { ChargeResult, DescriptorCharge, WindowCounts } from "../store/counter-store.ts";
import { chargedHits, estimate, isAdmitted, windowPasses } from "./admission.ts";
import { latestRetry } from "./binding-window.ts";
import { blockingWindows } from "./blocking-windows.ts";
import type { ChargePlan } from "./plan-charges.ts";
import type { RefusedHits } from "./refused-hits.ts";
import { reportWindows, type WindowReport } from "./window-report.ts";

/**
 * A local cache of calls known to be over limit, consulted before the counter store so that a
 * client hammering past its limit costs no store round trip until its Retry-After instant.
 *
 * What is cached: a call refused by the store, keyed by everything the store was asked (each
 * charge's counter, mode, cost, countRejected and windows), with the counts the store answered
 * and the instant the refused call would pass if nothing else arrived (its Retry-After instant).
 * A later identical call before that instant is answered from the entry: the counts are rolled
 * forward to the current instant (slot k's hits become slot k + 1's previous ones, as the store
 * would read them), every window is checked again and admission decided again, with the same rule
 * the stores use. Only if that still refuses is the call answered from the cache, so the answer,
 * the statuses and the headers (Retry-After counting down, Reset) are the ones the store would
 * give at that instant. If it would now pass, the entry is dropped and the store decides.
 *
 * A call answered here still counts where the store would have counted it (`count_rejected`, the
 * default): its hits are added to the entry, so the next answer, its remaining and its Retry-After
 * grow as the store's would, and to `refusedHits`, which writes them to the store within a short
 * interval (refused-hits.ts), so other descriptors of the call (its API key's counter) and other
 * instances see them too. A tight retry loop stays refused, as with the cache off.
 *
 * Trade-offs:
 * - Hits other clients or instances add meanwhile are not seen until the entry expires; counts only
 *   grow within a slot, so this can shorten a cached Retry-After but never refuse a call the store
 *   would admit.
 * - Calls with a shadow descriptor are never cached: shadow rules exist to measure every call; nor
 *   are calls naming one counter twice (rare, and their counts are not one per counter).
 * The store's clock is followed (Redis TIME, with the offset to the local clock taken at the refusal).
 */
export interface OverLimitCache {
  /** The store's answer to this plan at `localNowMs` if a cached refusal still stands, else undefined. */
  lookup(plan: ChargePlan, localNowMs: number): ChargeResult | undefined;
  /** Records a store answer; only refusals that a wait can clear are kept. */
  remember(plan: ChargePlan, result: ChargeResult, localNowMs: number): void;
  /** Entries held. */
  readonly size: number;
}

export interface OverLimitCacheOptions {
  /** Most calls held; the least recently used is evicted beyond it. */
  readonly maxEntries: number;
  /** Where hits of refusals answered here are counted, for the store. */
  readonly refusedHits: RefusedHits;
  readonly onHit?: () => void;
  readonly onEviction?: () => void;
}

interface Entry {
  readonly plan: ChargePlan;
  /** Store clock minus local clock at the refusal, in ms. */
  readonly offsetMs: number;
  /** The store's answer at the refusal, then this cache's at its latest answer (its hits included). */
  result: ChargeResult;
  /** Store time at which the call would pass (its Retry-After instant). */
  untilMs: number;
}

export function createOverLimitCache(options: OverLimitCacheOptions): OverLimitCache {
  // Keyed by the call's counters; a Map keeps insertion order, which serves as the LRU order.
  const entries = new Map<string, Entry>();

  return {
    lookup(plan, localNowMs) {
      // Nothing is over limit (the usual case): no key is even built.
      if (entries.size === 0 || plan.charges.length === 0) return undefined;
      const key = cacheKey(plan.charges);
      const entry = entries.get(key);
      if (entry === undefined || !sameCharges(entry.plan.charges, plan.charges)) return undefined;
      const nowMs = localNowMs + entry.offsetMs;
      const rolled = nowMs < entry.untilMs ? rollForward(entry, nowMs) : undefined;
      entries.delete(key);
      if (rolled === undefined || rolled.admitted) return undefined;
      const result = countRefusal(entry.plan.charges, rolled, options.refusedHits);
      const retryAfterSeconds = requestRetryAfter(entry.plan, result);
      entry.result = result;
      // Most recently used goes last; an entry no wait can clear is answered once more, then dropped.
      if (retryAfterSeconds !== undefined) {
        entry.untilMs = nowMs + retryAfterSeconds * 1000;
        entries.set(key, entry);
      }
      options.onHit?.();
      return result;
    },

    remember(plan, result, localNowMs) {
      if (result.admitted || plan.charges.length === 0) return;
      if (hasShadowRule(plan) || namesACounterTwice(plan.charges)) return;
      const retryAfterSeconds = requestRetryAfter(plan, result);
      if (retryAfterSeconds === undefined) return;
      const key = cacheKey(plan.charges);
      entries.delete(key);
      entries.set(key, {
        plan,
        offsetMs: result.nowMs - localNowMs,
        result,
        untilMs: result.nowMs + retryAfterSeconds * 1000,
      });
      while (entries.size > options.maxEntries) {
        const oldest = entries.keys().next().value as string;
        entries.delete(oldest);
        options.onEviction?.();
      }
    },

    get size() {
      return entries.size;
    },
  };
}

/** The refused call's Retry-After, as decide() reports it; undefined when no wait helps. */
function requestRetryAfter(plan: ChargePlan, result: ChargeResult): number | undefined {
  const reports: WindowReport[] = [];
  for (const planned of plan.descriptors) {
    if (planned.kind !== "charged") continue;
    reports.push(...reportWindows(planned, result.counts[planned.chargeIndex], result.nowMs));
  }
  return latestRetry(blockingWindows(reports))?.retryAfterSeconds;
}

/**
 * The store's answer at `nowMs` had nothing been added since the refusal: each window's counts
 * read from slot k (as answered), k + 1 (its hits as the previous slot's) or later (none), and
 * every window and the call checked again.
 */
function rollForward(entry: Entry, nowMs: number): ChargeResult {
  const { result } = entry;
  const charges = entry.plan.charges;
  const counts: WindowCounts[][] = [];
  const failures: { mode: DescriptorCharge["mode"]; failed: boolean }[] = [];
  charges.forEach((charge, i) => {
    let failed = false;
    const windows = charge.windows.map((window, j): WindowCounts => {
      const at = result.counts[i]?.[j] ?? { current: 0, previous: 0, passed: true };
      const slotsAhead = Math.floor(nowMs / window.windowMs) - Math.floor(result.nowMs / window.windowMs);
      const current = slotsAhead <= 0 ? at.current : 0;
      const previous = slotsAhead <= 0 ? at.previous : slotsAhead === 1 ? at.current : 0;
      const passed = windowPasses(
        estimate(current, previous, nowMs, window.windowMs),
        charge.cost,
        window.limit,
      );
      if (!passed) failed = true;
      return { current, previous, passed };
    });
    counts.push(windows);
    failures.push({ mode: charge.mode, failed });
  });
  return { nowMs, admitted: isAdmitted(failures), counts };
}

/**
 * The refused call charged as the store would charge it: descriptors with count_rejected add their
 * hits (at most each window's limit) to the answer's counts and to `refusedHits`, in the slot of the
 * answer's instant.
 */
function countRefusal(
  charges: readonly DescriptorCharge[],
  rolled: ChargeResult,
  refusedHits: RefusedHits,
): ChargeResult {
  const counts = rolled.counts.map((windows, i): WindowCounts[] => {
    const charge = charges[i] as DescriptorCharge;
    if (!charge.countRejected || charge.cost === 0) return windows as WindowCounts[];
    return windows.map((w, j) => {
      const window = charge.windows[j] as DescriptorCharge["windows"][number];
      const hits = chargedHits(charge.cost, window.limit, false);
      refusedHits.add(charge.counterKey, window.windowMs, Math.floor(rolled.nowMs / window.windowMs), hits);
      return { ...w, current: w.current + hits };
    });
  });
  return { nowMs: rolled.nowMs, admitted: false, counts };
}

/** Read from the rules, not the charges: a quota descriptor is charged as shadow too, yet may be cached. */
function hasShadowRule(plan: ChargePlan): boolean {
  return plan.descriptors.some((d) => d.kind === "charged" && d.mode === "shadow");
}

function namesACounterTwice(charges: readonly DescriptorCharge[]): boolean {
  if (charges.length < 2) return false;
  return new Set(charges.map((c) => c.counterKey)).size < charges.length;
}

/** The call's counters in order; `sameCharges` then checks everything else the store was asked. */
function cacheKey(charges: readonly DescriptorCharge[]): string {
  let key = "";
  for (const charge of charges) key += `${charge.counterKey} `;
  return key;
}

function sameCharges(a: readonly DescriptorCharge[], b: readonly DescriptorCharge[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as DescriptorCharge;
    const y = b[i] as DescriptorCharge;
    if (
      x.counterKey !== y.counterKey ||
      x.mode !== y.mode ||
      x.cost !== y.cost ||
      x.countRejected !== y.countRejected ||
      x.windows.length !== y.windows.length
    ) {
      return false;
    }
    for (let j = 0; j < x.windows.length; j++) {
      const v = x.windows[j];
      const w = y.windows[j];
      if (v?.windowMs !== w?.windowMs || v?.limit !== w?.limit) return false;
    }
  }
  return true;
}
