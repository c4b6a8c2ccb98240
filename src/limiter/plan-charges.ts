import type { DescriptorEntry, LimitWindow, MatchedRule, PolicyTable } from "../policy/policy-types.ts";
import { type Unit, unitMillis } from "../policy/units.ts";
import type { DescriptorCharge, DescriptorMode, WindowCharge } from "../store/counter-store.ts";
import type { CallDescriptor, RateLimitCall } from "./limiter-types.ts";

/**
 * Turns a validated call and a policy snapshot into the store's charges, remembering how each
 * charge maps back to the call's descriptors. Pure.
 */

/** Rule id reported for a descriptor limited only by Envoy's override (it matched no rule). */
export const OVERRIDE_RULE_ID = "override";

export interface PlannedWindow {
  readonly unit: Unit;
  readonly requestsPerUnit: number;
  readonly name?: string | undefined;
  readonly windowMs: number;
}

/**
 * How a charged descriptor's rule takes part. Only enforced descriptors refuse; shadow and quota
 * ones never do (envoyproxy/ratelimit's shadow_mode and quota_mode) and differ only in how they
 * report a window they failed: shadow as any window with its reset, quota with nothing left and no
 * reset (decide.ts).
 */
export type RuleMode = "enforced" | "shadow" | "quota";

export interface ChargedDescriptor {
  readonly kind: "charged";
  readonly ruleId: string;
  /** The matched rule's stat key (MatchedRule.statKey), for the reference-named metrics. */
  readonly statKey?: readonly string[] | undefined;
  /** How the descriptor reports (its status, the headers, metrics); its charge carries `admissionMode`. */
  readonly mode: RuleMode;
  /** h for this descriptor's windows. */
  readonly cost: number;
  /** Index into `ChargePlan.charges`, and so into `ChargeResult.counts`. */
  readonly chargeIndex: number;
  /** Same order as the charge's windows. */
  readonly windows: readonly PlannedWindow[];
}

/** Why a descriptor is not charged; `unlimited` reads differently from the others in its status. */
export type UnchargedReason = "unmatched" | "whitelisted" | "unlimited" | "replaced";

export interface UnchargedDescriptor {
  readonly kind: "uncharged";
  readonly reason: UnchargedReason;
}

export type PlannedDescriptor = ChargedDescriptor | UnchargedDescriptor;

export interface ChargePlan {
  /** One per call descriptor, in the call's order. */
  readonly descriptors: readonly PlannedDescriptor[];
  /** What the store is asked to charge; empty when nothing is limited. */
  readonly charges: readonly DescriptorCharge[];
}

/**
 * A descriptor's limit before `replaces` is applied: the matched rule itself (no copy per call), or
 * the limit Envoy sent in the descriptor.
 */
type ResolvedLimit = Pick<
  MatchedRule,
  | "ruleId"
  | "statKey"
  | "counterId"
  | "windows"
  | "unlimited"
  | "unlimitedReplaces"
  | "shadowMode"
  | "quotaMode"
  | "countRejected"
>;

/** A rule in both shadow and quota mode reports as shadow, as in envoyproxy/ratelimit. */
function modeOf(limit: ResolvedLimit): RuleMode {
  return limit.shadowMode ? "shadow" : limit.quotaMode ? "quota" : "enforced";
}

/**
 * The mode a store weighs: a descriptor that never refuses is handed over as shadow, since the
 * stores' admission rule (admission.ts) refuses only on an enforced descriptor failing. Charging
 * follows only the verdict and count_rejected, so a quota descriptor is counted like any other.
 */
export function admissionMode(mode: RuleMode): DescriptorMode {
  return mode === "enforced" ? "enforced" : "shadow";
}

export function planCharges(
  call: RateLimitCall,
  table: PolicyTable,
  counterKey: (counterId: string) => string,
): ChargePlan {
  const known = table.hasDomain(call.domain);
  const resolved = call.descriptors.map((d) => (known ? resolveLimit(call.domain, d, table) : undefined));
  const replaced = replacedNames(resolved);

  const descriptors: PlannedDescriptor[] = [];
  const charges: DescriptorCharge[] = [];
  call.descriptors.forEach((descriptor, i) => {
    const limit = resolved[i];
    const kept =
      limit === undefined
        ? []
        : replaced === undefined
          ? limit.windows
          : limit.windows.filter((w) => !isReplaced(w, replaced));
    if (limit === undefined || limit.unlimited || kept.length === 0) {
      descriptors.push({ kind: "uncharged", reason: unchargedReason(limit) });
      return;
    }
    const cost = descriptorCost(call, descriptor);
    // Only the policy's own lists live on; a filtered list or an override's is made for this call.
    const { planned, charged } =
      kept === limit.windows && descriptor.limitOverride === undefined
        ? sharedShapes(kept)
        : windowShapes(kept);
    const mode = modeOf(limit);
    descriptors.push({
      kind: "charged",
      ruleId: limit.ruleId,
      statKey: limit.statKey,
      mode,
      cost,
      chargeIndex: charges.length,
      windows: planned,
    });
    charges.push({
      counterKey: counterKey(limit.counterId),
      mode: admissionMode(mode),
      cost,
      countRejected: limit.countRejected,
      windows: charged,
    });
  });
  return { descriptors, charges };
}

/** A window list as the plan reports it and as the store charges it. */
interface WindowShapes {
  readonly planned: readonly PlannedWindow[];
  readonly charged: readonly WindowCharge[];
}

/**
 * Window lists belong to the compiled policy and are read by every call that matches their rule, so
 * their shapes are derived once per list rather than per call (a reload compiles new lists, and the
 * old ones are collected with their entries). Lists filtered by `replaces` are new per call and
 * simply pass through once.
 */
const shapes = new WeakMap<readonly LimitWindow[], WindowShapes>();

function sharedShapes(windows: readonly LimitWindow[]): WindowShapes {
  let known = shapes.get(windows);
  if (known === undefined) {
    known = windowShapes(windows);
    shapes.set(windows, known);
  }
  return known;
}

function windowShapes(windows: readonly LimitWindow[]): WindowShapes {
  const planned = windows.map(
    (w): PlannedWindow => ({
      unit: w.unit,
      requestsPerUnit: w.requestsPerUnit,
      name: w.name,
      windowMs: unitMillis(w.unit),
    }),
  );
  return { planned, charged: planned.map((w) => ({ windowMs: w.windowMs, limit: w.requestsPerUnit })) };
}

function unchargedReason(limit: ResolvedLimit | undefined): UnchargedReason {
  if (limit === undefined) return "unmatched";
  if (limit.unlimited) return "unlimited";
  return limit.windows.length === 0 ? "whitelisted" : "replaced";
}

/** h: the descriptor's own hits_addend when set (0 = check only), else the request's, where 0 means 1. */
export function descriptorCost(call: RateLimitCall, descriptor: CallDescriptor): number {
  if (descriptor.hitsAddend !== undefined) return descriptor.hitsAddend;
  return call.hitsAddend === 0 ? 1 : call.hitsAddend;
}

/**
 * The counter identity of an override: the domain and every entry, as envoyproxy/ratelimit keys it.
 * JSON keeps it unambiguous whatever characters keys and values hold.
 */
export function overrideCounterId(domain: string, entries: readonly DescriptorEntry[]): string {
  return JSON.stringify([domain, ...entries.map((e) => [e.key, e.value])]);
}

function resolveLimit(
  domain: string,
  descriptor: CallDescriptor,
  table: PolicyTable,
): ResolvedLimit | undefined {
  const rule = table.match(domain, descriptor.entries);
  const override = descriptor.limitOverride;
  if (override !== undefined) {
    // Envoy chose this limit (from route metadata); like envoyproxy/ratelimit it stands on its own:
    // never shadow, quota or unlimited, no name or replaces. The rule id, when a rule also matches,
    // only keeps metrics per rule.
    return {
      ruleId: rule?.ruleId ?? OVERRIDE_RULE_ID,
      // The reference names an override's stats after the request's values; Sluice keeps the
      // matched rule's bounded key, and none when no rule matched.
      statKey: rule?.statKey,
      counterId: overrideCounterId(domain, descriptor.entries),
      windows: [{ unit: override.unit, requestsPerUnit: override.requestsPerUnit, replaces: [] }],
      unlimited: false,
      unlimitedReplaces: [],
      shadowMode: false,
      quotaMode: false,
      countRejected: true,
    };
  }
  return rule;
}

/** What names a limit in `replaces`: one of the request's windows, or an `unlimited` rule. */
type Replacer = LimitWindow | ResolvedLimit;

/**
 * For each limit name, the windows (or unlimited rules) of this request that replace it. A window
 * is dropped when some OTHER matched window or rule names it, so a window listing its own name does
 * not drop itself. Dropping does not chain: a replaced window still replaces what it names, and an
 * unlimited rule, though it charges nothing, replaces what it names, as in envoyproxy/ratelimit.
 */
function replacedNames(limits: readonly (ResolvedLimit | undefined)[]): Map<string, Replacer[]> | undefined {
  // `replaces` is rare: no map at all (and no filtering by the caller) unless something names a limit.
  let byName: Map<string, Replacer[]> | undefined;
  for (const limit of limits) {
    if (limit === undefined) continue;
    for (const name of limit.unlimitedReplaces) byName = withReplacer(byName, name, limit);
    for (const window of limit.windows) {
      for (const name of window.replaces) byName = withReplacer(byName, name, window);
    }
  }
  return byName;
}

function withReplacer(
  byName: Map<string, Replacer[]> | undefined,
  name: string,
  replacer: Replacer,
): Map<string, Replacer[]> {
  const map = byName ?? new Map<string, Replacer[]>();
  const replacers = map.get(name);
  if (replacers === undefined) map.set(name, [replacer]);
  else replacers.push(replacer);
  return map;
}

function isReplaced(window: LimitWindow, replaced: Map<string, Replacer[]>): boolean {
  if (window.name === undefined) return false;
  return (replaced.get(window.name) ?? []).some((replacer) => replacer !== window);
}
