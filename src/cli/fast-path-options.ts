import { systemClock } from "../clock.ts";
import { createOverLimitCache } from "../limiter/over-limit-cache.ts";
import type { RateLimiterOptions } from "../limiter/rate-limiter.ts";
import { createRefusedHits, type RefusedHits } from "../limiter/refused-hits.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Settings } from "../settings/settings.ts";
import { cachedCounterKey } from "../store/cached-counter-key.ts";
import { counterKey } from "../store/counter-key.ts";

/**
 * Counter ids kept with their hashed key (cached-counter-key.ts): two generations of this many, a
 * few MiB, enough for every tenant, key and route a busy instance sees within a minute or so.
 */
const COUNTER_KEY_CACHE_ENTRIES = 100_000;

/**
 * How long hits of refusals the local cache answered may wait before they are written to the store,
 * in ms: the bound on how long other instances (and other descriptors' counters) miss them.
 */
export const REFUSED_HITS_FLUSH_MS = 100;

export interface FastPathOptions extends Pick<RateLimiterOptions, "counterKey" | "overLimitCache"> {
  /** Hits of refusals the cache answered, for the composition root to write to the store. */
  readonly refusedHits?: RefusedHits | undefined;
}

/**
 * The limiter options that keep the decision path short: memoised counter keys and, unless
 * `--local-cache-size 0`, the local over-limit cache with its metrics.
 */
export function fastPathOptions(settings: Settings, metrics: Metrics): FastPathOptions {
  const keyOf = cachedCounterKey(counterKey, COUNTER_KEY_CACHE_ENTRIES);
  if (settings.localCacheSize === 0) return { counterKey: keyOf };
  const refusedHits = createRefusedHits();
  const cache = createOverLimitCache({
    maxEntries: settings.localCacheSize,
    refusedHits,
    onHit: () => metrics.recordLocalCacheHit(),
    onEviction: () => metrics.recordLocalCacheEviction(),
  });
  metrics.watchLocalCacheEntries(() => cache.size);
  return { counterKey: keyOf, overLimitCache: { cache, clock: systemClock }, refusedHits };
}
