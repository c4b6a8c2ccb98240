import { findNode } from "./match-descriptor.ts";
import type { CompiledDomain, MatchLevel } from "./match-tree.ts";
import type { DescriptorEntry } from "./policy-types.ts";

/**
 * Reads a Rate Limit Quota Service bucket id as a descriptor of the domain's policy. Pure.
 *
 * A bucket id is an unordered map (`{tenant: acme, plan: free}`), a descriptor an ordered list, so
 * the policy tree gives the order: from the top level down, the entry taken at each level is the
 * bucket key that has a node there (exact value, then wildcard, then bare key, as for a descriptor);
 * when several keys do, the first in JavaScript's string order (UTF-16 code units) wins. The walk
 * stops at a level none of the remaining keys reaches. Keys never placed are left out: they may
 * route the request inside Envoy (a constant `name: tenant` key, say) without reaching the policy.
 *
 * So a policy written for RLS descriptors `[(tenant, acme), (plan, free)]` serves the bucket id
 * `{tenant: acme, plan: free}` with the same rule and the same counter, whatever order the map
 * arrived in. A bucket none of whose keys reaches the top level gives no entries: it matches no
 * rule, like an RLS descriptor that matches nothing.
 */
export function bucketEntries(
  domain: CompiledDomain,
  bucket: Readonly<Record<string, string>>,
): DescriptorEntry[] {
  const remaining = Object.keys(bucket).sort();
  const entries: DescriptorEntry[] = [];
  let level: MatchLevel | undefined = domain.root;
  while (level !== undefined && remaining.length > 0) {
    const placed = placeOne(level, remaining, bucket);
    if (placed === undefined) break;
    const key = remaining[placed.index] as string;
    entries.push({ key, value: bucket[key] as string });
    remaining.splice(placed.index, 1);
    level = placed.children;
  }
  return entries;
}

function placeOne(
  level: MatchLevel,
  keys: readonly string[],
  bucket: Readonly<Record<string, string>>,
): { index: number; children: MatchLevel | undefined } | undefined {
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    const node = findNode(level, key, bucket[key] as string);
    if (node !== undefined) return { index, children: node.children };
  }
  return undefined;
}
