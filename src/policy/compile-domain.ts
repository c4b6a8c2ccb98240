import { compileGlob } from "./compile-glob.ts";
import type { CompiledDomain, MatchLevel, MatchNode } from "./match-tree.ts";
import type { DescriptorSpec, PolicySpec } from "./policy-spec.ts";
import { referenceLevel, sanitizeStatName } from "./stat-key.ts";

/** What a node inherits from the path above it, for its rule id. */
interface Ancestry {
  readonly labels: readonly string[];
  /** The domain and path in envoyproxy/ratelimit's naming (stat-key.ts), raw and sanitized for stat names. */
  readonly referencePath: readonly string[];
  readonly statKey: readonly string[];
  /** Some node on the path matches by wildcard or bare key, so a request value could stand in for it. */
  readonly hasVariableStep: boolean;
  /** Some such node has `value_to_metric: true`. */
  readonly valueToMetric: boolean;
}

/** Compiles a validated policy file into its lookup tree; all per-request work is Map lookups and glob tests. */
export function compileDomain(spec: PolicySpec): CompiledDomain {
  const counter = { rules: 0 };
  const root = compileLevel(
    spec.descriptors,
    {
      labels: [],
      referencePath: [spec.domain],
      statKey: [sanitizeStatName(spec.domain)],
      hasVariableStep: false,
      valueToMetric: false,
    },
    counter,
  );
  return Object.freeze({
    domain: spec.domain,
    file: spec.file,
    root,
    ruleCount: counter.rules,
    failurePolicy: spec.failurePolicy,
  });
}

function compileLevel(
  specs: readonly DescriptorSpec[],
  ancestry: Ancestry,
  counter: { rules: number },
): MatchLevel {
  const exact = new Map<string, MatchNode>();
  const wildcards = new Map<string, MatchNode[]>();
  const bare = new Map<string, MatchNode>();
  const nodes: MatchNode[] = [];
  for (const spec of specs) {
    const node = compileNode(spec, ancestry, counter);
    nodes.push(node);
    if (node.kind === "exact") exact.set(`${node.key}\0${node.value}`, node);
    else if (node.kind === "bare") bare.set(node.key, node);
    else {
      // The reference looks `key_value` up before trying any wildcard, and its table holds wildcard
      // nodes under their pattern text too, so a request value spelling a pattern takes that node
      // even when an earlier wildcard would also fit it.
      exact.set(`${node.key}\0${node.value}`, node);
      const list = wildcards.get(node.key);
      if (list) list.push(node);
      else wildcards.set(node.key, [node]);
    }
  }
  return Object.freeze({ exact, wildcards, bare, nodes: Object.freeze(nodes) });
}

function compileNode(spec: DescriptorSpec, ancestry: Ancestry, counter: { rules: number }): MatchNode {
  const kind = spec.value === undefined ? "bare" : spec.value.includes("*") ? "wildcard" : "exact";
  const label = spec.value === undefined ? spec.key : `${spec.key}=${spec.value}`;
  const variable = kind !== "exact";
  const level = referenceLevel(spec);
  const statLevel = sanitizeStatName(level);
  const here: Ancestry = {
    labels: [...ancestry.labels, label],
    referencePath: Object.freeze([...ancestry.referencePath, level]),
    statKey: Object.freeze([...ancestry.statKey, statLevel]),
    hasVariableStep: ancestry.hasVariableStep || variable,
    valueToMetric: ancestry.valueToMetric || (variable && spec.valueToMetric),
  };
  const limit = spec.limit;
  const name = limit?.kind === "unlimited" ? limit.name : limit?.windows[0]?.name;
  const children = spec.children.length > 0 ? compileLevel(spec.children, here, counter) : undefined;
  if (limit || spec.concurrency || !children) counter.rules++;
  return Object.freeze({
    key: spec.key,
    kind,
    value: spec.value,
    matches: kind === "wildcard" && spec.value !== undefined ? compileGlob(spec.value) : undefined,
    label,
    ruleId: name ?? here.labels.join("."),
    // A named limit keeps its name as the label: names are bounded, request values are not.
    ruleIdHasValues:
      name === undefined && (here.valueToMetric || (spec.detailedMetric && here.hasVariableStep)),
    referencePath: here.referencePath,
    statLevel,
    statKey: here.statKey,
    statKeyHasValues: spec.detailedMetric || here.valueToMetric,
    windows: Object.freeze(limit?.kind === "windows" ? [...limit.windows] : []),
    unlimited: limit?.kind === "unlimited",
    unlimitedReplaces: Object.freeze(limit?.kind === "unlimited" ? [...limit.replaces] : []),
    shadowMode: spec.shadowMode,
    quotaMode: spec.quotaMode,
    countRejected: spec.countRejected,
    detailedMetric: spec.detailedMetric,
    valueToMetric: spec.valueToMetric,
    shareThreshold: kind === "wildcard" && spec.shareThreshold,
    // Labelled by name or key path only, never request values; `.concurrency` keeps an unnamed
    // limit's outcomes apart from the same node's rate outcomes in sluice_decisions_total.
    concurrency: spec.concurrency && {
      ...spec.concurrency,
      ruleId: spec.concurrency.name ?? `${here.labels.join(".")}.concurrency`,
    },
    children,
  });
}
