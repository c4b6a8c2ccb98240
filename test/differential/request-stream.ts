import type { RlsDescriptor, RlsRequest } from "../support/rls-client.ts";
import { type GeneratedDomain, type GeneratedNode, UNITS, type WindowUnit } from "./policy-generator.ts";
import type { SeededRandom } from "./seeded-random.ts";

/**
 * Random ShouldRateLimit calls against generated policies: descriptors that follow the policy to
 * every depth (and one entry past it), unmatched ones, unknown domains, repeated descriptors,
 * hits_addend on the request and on descriptors, and Envoy's per-descriptor `limit` override.
 * See known-differences.ts for what is never generated and why.
 */

export interface StreamOptions {
  readonly requests: number;
  /**
   * Whether descriptors may carry hits_addend 0 (check only). If so, no request's hits add up to more
   * than `minLimit`, so no window is ever charged more than its limit in a refused request.
   */
  readonly checkOnly: boolean;
  /** The smallest limit of the policy and of overrides. */
  readonly minLimit: number;
}

/** Most hits one descriptor can carry, and most descriptors per request. */
export const MAX_DESCRIPTOR_HITS = 5;
export const MAX_DESCRIPTORS = 4;

/** Values for bare keys and for steps off the policy; `x*` spells a pattern, which must match that rule first. */
const FREE_VALUES = ["x", "y", "xa", "ÿ", "", "q.1", "x*"] as const;
const PATTERN_SUFFIXES = ["", "1", "q", "x"] as const;

export function generateStream(
  random: SeededRandom,
  domains: readonly GeneratedDomain[],
  options: StreamOptions,
): RlsRequest[] {
  const overrides: Overrides = new Map();
  const requests: RlsRequest[] = [];
  for (let n = 0; n < options.requests; n++) {
    const known = random.chance(0.92);
    const domain = known ? random.pick(domains) : undefined;
    const descriptors: RlsDescriptor[] = [];
    const count = random.int(1, MAX_DESCRIPTORS);
    for (let i = 0; i < count; i++) {
      const earlier = descriptors.length > 0 && random.chance(0.12);
      descriptors.push(
        earlier
          ? structuredClone(random.pick(descriptors))
          : generateDescriptor(random, domain, options, overrides),
      );
    }
    const request: RlsRequest = { domain: domain?.domain ?? "unknown", descriptors };
    if (random.chance(0.5)) request.hits_addend = random.int(0, options.checkOnly ? 1 : 4);
    if (options.checkOnly) fitHits(request, options.minLimit);
    requests.push(request);
  }
  return requests;
}

interface WindowLimit {
  readonly unit: WindowUnit;
  readonly rpu: number;
}

/**
 * The override limit of each entry list (with its domain), fixed for the stream, because both
 * services count an override on the counter of its entries: the one unit keeps the reference's
 * unit-blind counter keys apart from other windows, and (outside check-only streams) the one limit
 * keeps Sluice's cap on refused hits invisible. See known-differences.ts.
 */
type Overrides = Map<string, WindowLimit>;

/**
 * Where an override may go: `undefined` nowhere (the entries could match a rule the generator cannot
 * tell), `null` on entries that no rule counts, else the window of the one rule the entries match.
 */
type OverrideSite = WindowLimit | null | undefined;

function generateDescriptor(
  random: SeededRandom,
  domain: GeneratedDomain | undefined,
  options: StreamOptions,
  overrides: Overrides,
): RlsDescriptor {
  const shape = random.next();
  let descriptor: RlsDescriptor;
  let site: OverrideSite;
  if (shape < 0.12) {
    // No rule has key `o`: only an override limits these entries.
    descriptor = { entries: [{ key: "o", value: random.pick(FREE_VALUES) }] };
    site = null;
  } else if (shape < 0.2 || domain === undefined) {
    const entries = Array.from({ length: random.int(1, 3) }, () => ({
      key: random.pick(["a", "b", "é", "d"]),
      value: random.pick(FREE_VALUES),
    }));
    descriptor = { entries };
  } else {
    const walked = walkPolicy(random, domain.nodes);
    descriptor = { entries: walked.entries };
    site = walked.site;
  }
  if (site !== undefined && random.chance(0.3)) {
    const id = JSON.stringify([domain?.domain, descriptor.entries]);
    const limit = overrides.get(id) ??
      site ?? { unit: random.pick(UNITS), rpu: randomLimit(random, options) };
    overrides.set(id, limit);
    // Check-only streams never charge a window past its limit, so there a counter may have several limits.
    const rpu = options.checkOnly ? randomLimit(random, options) : limit.rpu;
    descriptor.limit = { requests_per_unit: rpu, unit: limit.unit.toUpperCase() };
  }
  if (random.chance(0.25)) {
    descriptor.hits_addend = {
      value: options.checkOnly ? random.int(0, 1) : random.int(1, MAX_DESCRIPTOR_HITS),
    };
  }
  return descriptor;
}

function randomLimit(random: SeededRandom, options: StreamOptions): number {
  return random.int(options.minLimit, options.minLimit + 6);
}

/**
 * Entries along a random path of the policy, stopping at a random depth, sometimes one past a leaf.
 * When every step took an exact value, the entries can only match this path, and `site` says what
 * its rule counts.
 */
function walkPolicy(
  random: SeededRandom,
  nodes: readonly GeneratedNode[],
): { entries: { key: string; value: string }[]; site: OverrideSite } {
  const entries: { key: string; value: string }[] = [];
  let level = nodes;
  let exact = true;
  let last: GeneratedNode | undefined;
  const depth = random.int(1, 3);
  while (entries.length < depth && level.length > 0) {
    const node = random.pick(level);
    const step = stepValue(random, node);
    exact &&= step.exact;
    entries.push({ key: node.key, value: step.value });
    last = node;
    level = node.children;
  }
  if (random.chance(0.1)) {
    entries.push({ key: random.pick(["a", "b", "é"]), value: random.pick(FREE_VALUES) });
    exact = false;
  }
  if (!exact || last === undefined) return { entries, site: undefined };
  const limit = last.limit;
  return { entries, site: limit?.kind === "window" ? { unit: limit.unit, rpu: limit.rpu } : null };
}

function stepValue(random: SeededRandom, node: GeneratedNode): { value: string; exact: boolean } {
  // `value: ""` loads as a bare key on both sides.
  if (node.value === undefined || node.value === "") return { value: random.pick(FREE_VALUES), exact: false };
  if (!node.value.endsWith("*")) return { value: node.value, exact: true };
  if (random.chance(0.15)) return { value: node.value, exact: false };
  return { value: node.value.slice(0, -1) + random.pick(PATTERN_SUFFIXES), exact: false };
}

/** Check-only streams: zero the last descriptors' hits until the request costs at most `max`. */
function fitHits(request: RlsRequest, max: number): void {
  const perDescriptor = Math.max(1, request.hits_addend ?? 0);
  const cost = (d: RlsDescriptor) => d.hits_addend?.value ?? perDescriptor;
  let total = request.descriptors.reduce((sum, d) => sum + cost(d), 0);
  for (let i = request.descriptors.length - 1; i >= 0 && total > max; i--) {
    const descriptor = request.descriptors[i] as RlsDescriptor;
    total -= cost(descriptor);
    descriptor.hits_addend = { value: 0 };
  }
}
