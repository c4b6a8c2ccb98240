/**
 * Where Sluice and envoyproxy/ratelimit (the pinned reference, scripts/setup.sh) answer differently
 * on purpose, or where one of them is known to be wrong. The differential test never generates these
 * cases: each entry says how the generators (policy-generator.ts, request-stream.ts) leave it out.
 * The comparison itself is never loosened for them. The text is meant to be read as documentation.
 */
export interface KnownDifference {
  readonly title: string;
  /** `intended`: a design choice; `reference`: the reference misbehaves; `open`: a Sluice defect not fixed yet. */
  readonly kind: "intended" | "reference" | "open";
  readonly text: string;
  /** How the generator keeps it out of the comparison. */
  readonly excludedBy: string;
}

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    title: "Sliding windows against fixed windows",
    kind: "intended",
    text:
      "Sluice estimates a window as the previous slot's hits, weighted by how much of it still overlaps, plus the " +
      "current slot's; the reference counts fixed windows aligned to the epoch and forgets everything at each " +
      "boundary. Within one window, with nothing counted in the previous one, both count alike; across a boundary " +
      "Sluice still refuses where the reference has already reset.",
    excludedBy:
      "Each seed runs against fresh Redis servers and never uses the second unit; every other unit is a whole " +
      "number of minutes aligned to the epoch (month = 30 days, year = 365 days, on both sides). The test waits out " +
      "the end of a minute so a whole stream falls within one minute, hence within one window of every unit.",
  },
  {
    title: "The reference joins key and value with an underscore",
    kind: "reference",
    text:
      'The reference looks rules up by the text `key + "_" + value` and names counters ' +
      "`domain_key_value_..._windowStart`. So the entry (a_b, c) matches a rule for key a with value b_c, the " +
      "entries (a_b, c) and (a, b_c) share a counter, and a `*` at the end of a rule's KEY makes it a prefix " +
      "wildcard over `key_value`. Sluice keeps keys and values apart.",
    excludedBy:
      "Generated keys, values and domains never contain `_`, and `*` appears only as the last character of a " +
      "rule's value.",
  },
  {
    title: "The reference's counter keys ignore the unit",
    kind: "reference",
    text:
      "A reference counter key ends with the window's start in seconds and nothing else about the window, so a " +
      "minute window and an hour window over the same entries share one counter whenever they start at the same " +
      "second: in the first minute of every hour, in the first hour of every day, and so on. Within one request stream this " +
      "happens when Envoy's per-descriptor `limit` override has another unit than the rule its entries match. " +
      "Sluice keeps one counter per window length.",
    excludedBy:
      "A descriptor carries a `limit` override only on entries no rule can match (first key `o`), with one unit per " +
      "entry list for the whole stream, or on entries that follow an exact path of the policy, with the unit of " +
      "the rule at the end of that path.",
  },
  {
    title: "An override with unit UNKNOWN",
    kind: "reference",
    text:
      "A descriptor `limit` with unit UNKNOWN makes the reference panic while it computes the window " +
      "(UnitToDivider: 'should not get here'); its handler re-panics errors it does not know, so the whole process " +
      "exits and every other call in flight fails too. Sluice refuses that call as INVALID_ARGUMENT naming the field.",
    excludedBy: "Overrides use a unit from minute to year.",
  },
  {
    title: "Local over-limit caches",
    kind: "intended",
    text:
      "The reference's local cache is off by default (LOCAL_CACHE_SIZE_IN_BYTES=0); when on, it refuses a key it " +
      "saw over its limit for the rest of that window without asking Redis, and does not add those calls' hits. " +
      "Sluice's cache (on by default) answers a repeated refused call while the store would still refuse it, and " +
      "still counts it. The test runs the reference without its cache and Sluice with --local-cache-size 0, so " +
      "every answer on both sides comes from the Redis counters: what is compared is the decision arithmetic; " +
      "the cache's agreement with the store is tested in " +
      "test/integration/over-limit-cache.test.ts.",
    excludedBy: "Both caches are off.",
  },
  {
    title: "A refused request adds at most the limit",
    kind: "intended",
    text:
      "On a refused request, Sluice adds at most a window's limit to it (one call with a huge cost cannot lock its " +
      "key for long or overflow the counter); the reference always adds the full hits_addend. Afterwards both " +
      "counters are at or over the limit, and both refuse every later call that costs at least 1 under it. " +
      "Two things tell them apart: a check-only descriptor (hits_addend 0) on a counter that one refusal took from " +
      "0 past the limit (limit 2: cost 3, then cost 0: the reference answers OVER_LIMIT, Sluice OK with 0 " +
      "remaining); and a counter read under two limits, as when Envoy's `limit` override on some calls differs " +
      "from the rule that counts the same entries on others (override 1/hour refused at cost 4, then the rule's " +
      "limit_remaining is 3 lower in the reference).",
    excludedBy:
      "A stream either never sends a descriptor hits_addend of 0 and gives every counter a single limit (an " +
      "override repeats the limit of the rule its entries match, or the first override of those entries), or " +
      "never sends a call whose hits add up to more than the smallest limit of its policy and overrides.",
  },
  {
    title: "`*` inside a value",
    kind: "intended",
    text:
      "Sluice treats every `*` in a rule's value as a glob (`team-*-eu`); the reference honours only a trailing " +
      "`*` and takes any other as a literal character.",
    excludedBy: "Generated patterns have a single `*`, at the end.",
  },
  {
    title: "Sluice-only policy keys",
    kind: "intended",
    text:
      "`rate_limits` (several windows on one rule), `count_rejected`, `concurrency` and a domain's failure policy " +
      "are Sluice extensions; the reference rejects them as unknown keys.",
    excludedBy: "Generated policies use only keys the reference accepts.",
  },
];

/**
 * Behaviours where Sluice was changed to answer as the reference does, which the generators produce
 * on purpose so that they stay alike.
 */
export const NOW_ALIKE: readonly string[] = [
  "Several descriptors of one call on one counter: their hits add up in call order, so each status sees the " +
    "hits of the descriptors before it (the reference's INCRBY per descriptor).",
  "An `unlimited` rule's `replaces` drops the named limits of the call's other descriptors.",
  "A value spelling a rule's pattern (`x*` for rule value `x*`) takes that rule before any wildcard is tried.",
  "A quota_mode descriptor never refuses: over its limit it reports OK with its limit, 0 remaining and no " +
    "duration_until_reset, and is still counted; only the call's other descriptors can refuse it.",
  "A rule in both shadow_mode and quota_mode is a shadow rule: it never refuses, and reports OK with its " +
    "limit, remaining and reset.",
];
