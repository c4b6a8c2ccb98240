import { stringify } from "yaml";
import type { SeededRandom } from "./seeded-random.ts";

/**
 * Random policies in the reference's format, within what both services must agree on (see
 * known-differences.ts for what is left out, and why). Keys, values and domains never hold `_`;
 * a pattern is a prefix followed by one `*`; no limit is per second.
 */

/** Every unit but second. All are whole minutes aligned to the epoch, so one minute lies within one window of each. */
export type WindowUnit = "minute" | "hour" | "day" | "week" | "month" | "year";

export const UNITS: readonly WindowUnit[] = ["minute", "hour", "day", "week", "month", "year"];
/** Rule keys. `o` is never one: requests use it for entries no rule matches. */
export const RULE_KEYS = ["a", "b", "é"] as const;
export const EXACT_VALUES = ["x", "y", "xa", "ÿ", ""] as const;
export const PATTERNS = ["x*", "y*", "xa*", "*"] as const;

export type GeneratedLimit =
  | {
      readonly kind: "window";
      readonly unit: WindowUnit;
      readonly rpu: number;
      readonly name?: string;
      readonly replaces: string[];
    }
  | { readonly kind: "unlimited"; readonly name?: string; readonly replaces: string[] };

export interface GeneratedNode {
  readonly key: string;
  /** Undefined or empty: a bare key (written as `value: ""` when empty); ending with `*`: a wildcard. */
  readonly value: string | undefined;
  readonly limit: GeneratedLimit | undefined;
  readonly shadowMode: boolean;
  readonly quotaMode: boolean;
  readonly detailedMetric: boolean;
  readonly shareThreshold: boolean;
  readonly children: GeneratedNode[];
}

export interface GeneratedDomain {
  readonly domain: string;
  readonly nodes: GeneratedNode[];
}

export interface PolicyBounds {
  /** Smallest requests_per_unit of a rule. */
  readonly minLimit: number;
}

const MAX_DEPTH = 3;

export function generateDomains(random: SeededRandom, bounds: PolicyBounds): GeneratedDomain[] {
  const names: string[] = [];
  const domains = ["d0", "d1"].map((domain) => ({
    domain,
    nodes: generateLevel(random, bounds, 1, names),
  }));
  for (const domain of domains) addReplaces(random, domain);
  return domains;
}

function generateLevel(
  random: SeededRandom,
  bounds: PolicyBounds,
  depth: number,
  names: string[],
): GeneratedNode[] {
  const nodes: GeneratedNode[] = [];
  // The reference refuses two nodes with the same `key_value` on one level.
  const taken = new Set<string>();
  const count = random.int(1, depth === 1 ? 5 : 3);
  for (let i = 0; i < count; i++) {
    const key = random.pick(RULE_KEYS);
    const shape = random.next();
    const value = shape < 0.45 ? random.pick(EXACT_VALUES) : shape < 0.75 ? random.pick(PATTERNS) : undefined;
    const id = `${key}\0${value ?? ""}`;
    if (taken.has(id)) continue;
    taken.add(id);
    const children =
      depth < MAX_DEPTH && random.chance(0.45) ? generateLevel(random, bounds, depth + 1, names) : [];
    const wildcard = value?.endsWith("*") ?? false;
    const quotaMode = random.chance(0.15);
    // Shadow and quota together is a case of its own (the rule reports as shadow), so it is made often.
    const shadowMode = random.chance(quotaMode ? 0.4 : 0.12);
    const limited = random.chance(children.length > 0 ? 0.4 : 0.8);
    nodes.push({
      key,
      value,
      limit: limited ? generateLimit(random, bounds, names) : undefined,
      shadowMode,
      quotaMode,
      detailedMetric: random.chance(0.15),
      shareThreshold: wildcard && random.chance(0.35),
      children,
    });
  }
  return nodes;
}

function generateLimit(random: SeededRandom, bounds: PolicyBounds, names: string[]): GeneratedLimit {
  const name = random.chance(0.35) ? `n${names.length}` : undefined;
  if (name !== undefined) names.push(name);
  if (random.chance(0.1)) return { kind: "unlimited", name, replaces: [] };
  const rpu = random.int(bounds.minLimit, bounds.minLimit + 12);
  return { kind: "window", unit: random.pick(UNITS), rpu, name, replaces: [] };
}

/** Some limits replace others of the same domain by name (never their own). */
function addReplaces(random: SeededRandom, domain: GeneratedDomain): void {
  const limits = allLimits(domain.nodes);
  const names = limits.flatMap((l) => (l.name === undefined ? [] : [l.name]));
  if (names.length === 0) return;
  for (const limit of limits) {
    if (!random.chance(0.25)) continue;
    const target = random.pick(names);
    if (target !== limit.name && !limit.replaces.includes(target)) limit.replaces.push(target);
  }
}

function allLimits(nodes: readonly GeneratedNode[]): GeneratedLimit[] {
  return nodes.flatMap((n) => [...(n.limit ? [n.limit] : []), ...allLimits(n.children)]);
}

/** The domain as a policy file both services load. */
export function domainYaml(domain: GeneratedDomain): string {
  return stringify({ domain: domain.domain, descriptors: domain.nodes.map(nodeYaml) });
}

function nodeYaml(node: GeneratedNode): Record<string, unknown> {
  const out: Record<string, unknown> = { key: node.key };
  if (node.value !== undefined) out.value = node.value;
  if (node.limit) out.rate_limit = limitYaml(node.limit);
  if (node.shadowMode) out.shadow_mode = true;
  if (node.quotaMode) out.quota_mode = true;
  if (node.detailedMetric) out.detailed_metric = true;
  if (node.shareThreshold) out.share_threshold = true;
  if (node.children.length > 0) out.descriptors = node.children.map(nodeYaml);
  return out;
}

function limitYaml(limit: GeneratedLimit): Record<string, unknown> {
  const out: Record<string, unknown> =
    limit.kind === "unlimited" ? { unlimited: true } : { unit: limit.unit, requests_per_unit: limit.rpu };
  if (limit.name !== undefined) out.name = limit.name;
  if (limit.replaces.length > 0) out.replaces = limit.replaces.map((name) => ({ name }));
  return out;
}
