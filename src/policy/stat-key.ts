import type { MatchNode } from "./match-tree.ts";
import type { DescriptorEntry } from "./policy-types.ts";

/**
 * envoyproxy/ratelimit names a rule's stats `ratelimit.service.rate_limit.DOMAIN.KEY.total_hits`
 * and so on, KEY being one `key_value` (exact node), `key_pattern` (wildcard) or `key` (bare key)
 * per descriptor level, joined by dots: the rule's place in the config, bounded by the policy.
 * Request values replace them only where the config asks: every level with `detailed_metric` on the
 * rule (except `share_threshold` levels, which keep their pattern), and `value_to_metric` levels
 * matched by wildcard or bare key (config_impl.go GetLimit). Sluice keeps the levels apart, as
 * Prometheus labels (metrics.ts), rather than joining them into one dotted name.
 */

/** A node's level in the reference's naming, e.g. `database_users`, `route_api/*` or `to_number`. */
export function referenceLevel(node: Pick<MatchNode, "key" | "value">): string {
  return node.value === undefined ? node.key : `${node.key}_${node.value}`;
}

/** The stat key of a rule reached through `path` by `entries`, with request values where the config asks. */
export function statKeyWithValues(
  path: readonly MatchNode[],
  entries: readonly DescriptorEntry[],
  detailed: boolean,
): string[] {
  return path.map((node, i) => {
    const value = entries[i]?.value ?? "";
    const withValue = detailed
      ? !node.shareThreshold
      : node.valueToMetric && node.kind !== "exact" && !node.shareThreshold;
    if (!withValue) return node.statLevel;
    return sanitizeStatName(value === "" ? node.key : `${node.key}_${value}`);
  });
}

/** Whether a rule's stat key depends on the request (so it is built per call). */
export function statKeyHasValues(
  path: readonly Pick<MatchNode, "kind" | "valueToMetric">[],
  detailed: boolean,
): boolean {
  return detailed || path.some((node) => node.valueToMetric && node.kind !== "exact");
}

const STAT_SEPARATORS = /[:|]/g;
const IPV4 = /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/g;

/**
 * The reference's utils.SanitizeStatName: `:` and `|` are statsd's own separators, and an IPv4
 * address's dots would split one level into four, so they become `_` there and here alike.
 */
export function sanitizeStatName(name: string): string {
  const plain = name.replace(STAT_SEPARATORS, "_");
  return plain.includes(".") ? plain.replace(IPV4, (ip) => ip.replaceAll(".", "_")) : plain;
}
