import type { CompiledDomain, MatchLevel, MatchNode } from "./match-tree.ts";
import type { DescriptorEntry, MatchedRule } from "./policy-types.ts";
import { statKeyWithValues } from "./stat-key.ts";

/**
 * Matches one request descriptor against a compiled domain, as the reference service does: walk
 * the entries in order from the top level, taking at each level the `key=value` node whose value
 * text equals the request's (a wildcard's pattern text included), else the first wildcard node of
 * the key whose pattern fits, else the bare key node. The node reached by the LAST entry decides;
 * a limit higher up does not apply to a longer descriptor, and running out of nodes before the
 * entries end means no match.
 */
export function matchDescriptor(
  domain: CompiledDomain,
  entries: readonly DescriptorEntry[],
): MatchedRule | undefined {
  if (entries.length === 0) return undefined;
  const path: MatchNode[] = [];
  let level: MatchLevel | undefined = domain.root;
  for (const entry of entries) {
    const node: MatchNode | undefined = level && findNode(level, entry.key, entry.value);
    if (!node) return undefined;
    path.push(node);
    level = node.children;
  }
  const last = path[path.length - 1] as MatchNode;
  return {
    ruleId: last.ruleIdHasValues ? ruleIdWithValues(path, entries, last.detailedMetric) : last.ruleId,
    counterId: counterId(domain.domain, path, entries),
    // statKey[0] is the domain, which request values never change.
    statKey: last.statKeyHasValues
      ? [last.statKey[0] as string, ...statKeyWithValues(path, entries, last.detailedMetric)]
      : last.statKey,
    windows: last.windows,
    unlimited: last.unlimited,
    unlimitedReplaces: last.unlimitedReplaces,
    shadowMode: last.shadowMode,
    quotaMode: last.quotaMode,
    countRejected: last.countRejected,
    detailedMetric: last.detailedMetric || last.ruleIdHasValues,
    concurrency: last.concurrency,
  };
}

export function findNode(level: MatchLevel, key: string, value: string): MatchNode | undefined {
  // Policy keys never hold NUL, so such a key matches nothing; checking keeps `key NUL value` unambiguous.
  if (key.includes("\0")) return undefined;
  const exact = level.exact.get(`${key}\0${value}`);
  if (exact) return exact;
  const wildcards = level.wildcards.get(key);
  if (wildcards) {
    for (const node of wildcards) if (node.matches?.(value)) return node;
  }
  return level.bare.get(key);
}

/**
 * The counter's identity: the domain and, per entry, the key with the request's value — or, on a
 * `share_threshold` wildcard, the pattern, so every value it matches shares one counter. A JSON
 * array keeps it unambiguous whatever the values hold; the shared form carries a third element so
 * it never equals the plain form for a value that happens to spell the pattern. It names neither
 * the file nor a load generation, so counters survive a reload that keeps the rule.
 */
function counterId(domain: string, path: readonly MatchNode[], entries: readonly DescriptorEntry[]): string {
  const parts: unknown[] = [domain];
  path.forEach((node, i) => {
    parts.push(node.shareThreshold ? [node.key, node.value, "shared"] : [node.key, entries[i]?.value]);
  });
  return JSON.stringify(parts);
}

/** The rule id with request values in place of wildcard and bare-key steps (detailed_metric / value_to_metric). */
function ruleIdWithValues(
  path: readonly MatchNode[],
  entries: readonly DescriptorEntry[],
  detailed: boolean,
): string {
  return path
    .map((node, i) =>
      node.kind !== "exact" && (detailed || node.valueToMetric)
        ? `${node.key}=${entries[i]?.value}`
        : node.label,
    )
    .join(".");
}
