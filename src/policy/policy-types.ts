import type { ConcurrencyRule } from "./concurrency-limit.ts";
import type { MatchExplanation } from "./explain-match.ts";
import type { FailurePolicy } from "./failure-policy.ts";
import type { Unit } from "./units.ts";

/** One sliding window of a rule: at most `requestsPerUnit` hits per `unit`. */
export interface LimitWindow {
  readonly unit: Unit;
  readonly requestsPerUnit: number;
  /** The policy's `name` for this limit; reported to Envoy and used by `replaces`. */
  readonly name?: string | undefined;
  /** Names of limits this one replaces when both match in one request. */
  readonly replaces: readonly string[];
}

/**
 * What a request descriptor matched in the policy table: everything the limiter needs to count
 * and decide, and nothing about YAML or protobuf.
 */
export interface MatchedRule {
  /**
   * Label for metrics: the first limit's name, or the policy's key path such as `tenant.plan=free`
   * (bounded; request values appear only with detailed_metric / value_to_metric).
   */
  readonly ruleId: string;
  /**
   * The domain and the rule's path as envoyproxy/ratelimit names its stats, one `key_value` / `key`
   * per level (stat-key.ts): bounded by the policy, with request values only under detailed_metric /
   * value_to_metric, as there. Labels the reference-named metrics; a rule without one (a test's
   * hand-built rule) adds none.
   */
  readonly statKey?: readonly string[] | undefined;
  /**
   * Identity of the counter, before hashing: domain plus the entries that select the counter
   * (the request's value for bare keys and wildcards, the pattern when `share_threshold` is set).
   * Equal identities share one counter; it does not depend on the policy's generation, so
   * counters of unchanged rules survive a reload.
   */
  readonly counterId: string;
  /** Windows to enforce; empty when the node whitelists (no limit) or is `unlimited`. */
  readonly windows: readonly LimitWindow[];
  readonly unlimited: boolean;
  /**
   * Names of the limits an `unlimited` rule replaces: like a window's `replaces`, they drop those
   * limits of the request's other descriptors (envoyproxy/ratelimit honours `replaces` on unlimited
   * rules too). Empty for other rules, whose names sit on their windows.
   */
  readonly unlimitedReplaces: readonly string[];
  readonly shadowMode: boolean;
  readonly quotaMode: boolean;
  /** Whether refused requests still consume this rule's windows (default true). */
  readonly countRejected: boolean;
  /** Metrics may carry the descriptor's values (`detailed_metric`). */
  readonly detailedMetric: boolean;
  /** The node's cap on requests in flight; applied only to lease descriptors (see concurrency-limit.ts). */
  readonly concurrency?: ConcurrencyRule | undefined;
}

/** A request descriptor as the core sees it: ordered entries, optional override and cost. */
export interface DescriptorEntry {
  readonly key: string;
  readonly value: string;
}

/** The compiled policy: one matcher per domain, frozen after load. */
export interface PolicyTable {
  /** Domains with their rule count, for summaries. */
  readonly domains: ReadonlyMap<string, DomainSummary>;
  /**
   * Matches one request descriptor. `undefined` when the domain is unknown or no node matches
   * (the descriptor is then not limited).
   */
  match(domain: string, entries: readonly DescriptorEntry[]): MatchedRule | undefined;
  hasDomain(domain: string): boolean;
  /**
   * Every limit, one line each, as envoyproxy/ratelimit's /rlconfig lists them (dump-policy.ts).
   * Optional so that fakes of the table need not model it; createPolicyTable has it.
   */
  dump?(): string;
  /**
   * How a descriptor walks the domain's tree, entry by entry (explain-match.ts), for `sluice explain`
   * and the admin's /explain and /usage; undefined for an unknown domain. Never on the decision
   * path. Optional so that fakes of the table need not model the tree; createPolicyTable has it.
   */
  explain?(domain: string, entries: readonly DescriptorEntry[]): MatchExplanation | undefined;
  /**
   * A Rate Limit Quota Service bucket id read as a descriptor of the domain, in the order the policy
   * tree gives (bucket-entries.ts); undefined for an unknown domain. Optional so that fakes of the
   * table need not model the tree; a table without it matches no bucket.
   */
  bucketEntries?(domain: string, bucket: Readonly<Record<string, string>>): DescriptorEntry[] | undefined;
}

export interface DomainSummary {
  readonly domain: string;
  readonly file: string;
  readonly ruleCount: number;
  /** The domain's own answer when the counter store cannot be asked; absent: the service's setting. */
  readonly failurePolicy?: FailurePolicy | undefined;
}

/** A policy error located at a file and a dotted key path, e.g. `api.yaml: descriptors[0].rate_limit.unit: ...`. */
export interface PolicyError {
  readonly file: string;
  readonly path: string;
  readonly message: string;
}

export type PolicyLoadResult =
  | {
      readonly ok: true;
      readonly table: PolicyTable;
      readonly files: readonly string[];
      /** What loaded only because the reference service accepts it (same shape as errors). */
      readonly warnings: readonly PolicyError[];
    }
  | { readonly ok: false; readonly errors: readonly PolicyError[] };

export function formatPolicyError(error: PolicyError): string {
  return `${error.file}: ${error.path}: ${error.message}`;
}

/** A warning as `sluice check` prints it: `WARNING: api.yaml: descriptors[0]...: message`. */
export function formatPolicyWarning(warning: PolicyError): string {
  return `WARNING: ${formatPolicyError(warning)}`;
}
