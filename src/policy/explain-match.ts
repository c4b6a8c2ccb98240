import { findNode } from "./match-descriptor.ts";
import type { CompiledDomain, MatchLevel, MatchNode } from "./match-tree.ts";
import type { DescriptorEntry } from "./policy-types.ts";

/**
 * How a descriptor walked the policy tree, for operators asking why a request was (not) limited.
 * Not on the decision path: a call is matched by matchDescriptor, and this walks the same way
 * (findNode) only when someone asks.
 */

/** How one request entry found its node. */
export interface MatchStep {
  readonly key: string;
  /** The request's value. */
  readonly value: string;
  /** `exact`: the policy names this value; `wildcard`: a pattern fits it; `bare`: the key alone, any value. */
  readonly node: MatchNode["kind"];
  /** The policy's value or pattern; absent for a bare key. */
  readonly policyValue?: string | undefined;
  /** A `share_threshold` wildcard: every value it fits counts against one counter. */
  readonly shared: boolean;
}

export interface MatchExplanation {
  /** One per entry that found a node, in order; all of them when the descriptor matched. */
  readonly steps: readonly MatchStep[];
  /**
   * Why no rule applies when an entry found no node: `no-node` (nothing at that level takes this
   * key and value) or `deeper-than-policy` (the previous node has no children). Absent on a match.
   */
  readonly unmatched?: { readonly index: number; readonly reason: "no-node" | "deeper-than-policy" };
  /**
   * Entries to append to this descriptor to reach every exact-valued node below it that sets a
   * limit or a concurrency cap (e.g. `route=bulk` under a plan): the sub-limits a usage page shows.
   * Wildcard and bare nodes below are left out, since only a request can say their values.
   */
  readonly limitedBelow: readonly (readonly DescriptorEntry[])[];
}

export function explainMatch(domain: CompiledDomain, entries: readonly DescriptorEntry[]): MatchExplanation {
  const steps: MatchStep[] = [];
  let level: MatchLevel | undefined = domain.root;
  let last: MatchNode | undefined;
  for (const [index, entry] of entries.entries()) {
    const node: MatchNode | undefined = level && findNode(level, entry.key, entry.value);
    if (node === undefined) {
      const reason = level === undefined ? "deeper-than-policy" : "no-node";
      return { steps, unmatched: { index, reason }, limitedBelow: [] };
    }
    steps.push({
      key: entry.key,
      value: entry.value,
      node: node.kind,
      policyValue: node.value,
      shared: node.shareThreshold,
    });
    last = node;
    level = node.children;
  }
  return { steps, limitedBelow: last === undefined ? [] : limitedBelow(last.children, []) };
}

function limitedBelow(level: MatchLevel | undefined, above: readonly DescriptorEntry[]): DescriptorEntry[][] {
  if (level === undefined) return [];
  const found: DescriptorEntry[][] = [];
  for (const node of level.exact.values()) {
    // Wildcard nodes are filed here too, under their pattern; only true exact nodes name a value.
    if (node.kind !== "exact" || node.value === undefined) continue;
    const path = [...above, { key: node.key, value: node.value }];
    if (node.windows.length > 0 || node.concurrency !== undefined) found.push(path);
    found.push(...limitedBelow(node.children, path));
  }
  return found;
}
