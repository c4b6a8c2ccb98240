import type { GlobMatcher } from "./compile-glob.ts";
import type { ConcurrencyRule } from "./concurrency-limit.ts";
import type { FailurePolicy } from "./failure-policy.ts";
import type { LimitWindow } from "./policy-types.ts";

/**
 * The compiled form of one descriptor level. A request entry (k, v) is looked up in this order,
 * as the reference service does: `exact` by `k NUL v`, then the `wildcards` of key k in file
 * order, then the `bare` node of key k.
 */
export interface MatchLevel {
  /** Exact nodes by `k NUL value`, and wildcard nodes by `k NUL pattern` (a value spelling the pattern). */
  readonly exact: ReadonlyMap<string, MatchNode>;
  readonly wildcards: ReadonlyMap<string, readonly MatchNode[]>;
  readonly bare: ReadonlyMap<string, MatchNode>;
  /** Every node of the level once, in file order (for listings such as /rlconfig; never for matching). */
  readonly nodes: readonly MatchNode[];
}

export interface MatchNode {
  readonly key: string;
  readonly kind: "exact" | "wildcard" | "bare";
  /** The policy's value: the literal for `exact`, the pattern for `wildcard`, undefined for `bare`. */
  readonly value: string | undefined;
  /** Wildcard nodes only. */
  readonly matches: GlobMatcher | undefined;
  /** This node's part of a rule id: `plan=free`, `route=v1*`, or `tenant`. */
  readonly label: string;
  /** The rule id when it does not depend on the request: the first limit's name, else the labels joined by `.`. */
  readonly ruleId: string;
  /** Whether the rule id must be rebuilt per request with request values (detailed_metric / value_to_metric). */
  readonly ruleIdHasValues: boolean;
  /** The domain and the node's path as envoyproxy/ratelimit names them, `key_value`/`key` per level (stat-key.ts). */
  readonly referencePath: readonly string[];
  /** This node's level of a stat key, and the whole path's: referencePath made safe for stat names. */
  readonly statLevel: string;
  readonly statKey: readonly string[];
  /** Whether the stat key must be rebuilt per request with request values (detailed_metric / value_to_metric). */
  readonly statKeyHasValues: boolean;
  readonly windows: readonly LimitWindow[];
  readonly unlimited: boolean;
  /** `unlimited` nodes only: names of the limits it replaces (windowed nodes keep theirs per window). */
  readonly unlimitedReplaces: readonly string[];
  readonly shadowMode: boolean;
  readonly quotaMode: boolean;
  readonly countRejected: boolean;
  readonly detailedMetric: boolean;
  readonly valueToMetric: boolean;
  /** Wildcard nodes only: every matching value counts against one counter, keyed by the pattern. */
  readonly shareThreshold: boolean;
  /** The node's cap on requests in flight, if it has one. */
  readonly concurrency: ConcurrencyRule | undefined;
  /** Undefined for a leaf: a request with more entries than this depth does not match. */
  readonly children: MatchLevel | undefined;
}

export interface CompiledDomain {
  readonly domain: string;
  readonly file: string;
  readonly root: MatchLevel;
  /**
   * Nodes that decide something: those with a limit (or `unlimited`) or a concurrency cap, and
   * leaves that whitelist.
   */
  readonly ruleCount: number;
  readonly failurePolicy?: FailurePolicy | undefined;
}
