import type { DescriptorCharge, PeekResult, WindowCharge, WindowCounts } from "./counter-store.ts";
import { malformedReply } from "./redis-connection.ts";

/**
 * Encoding of one CHARGE_SCRIPT or PEEK_SCRIPT call (see redis-charge-script.ts for the layouts)
 * and decoding of its reply. A call covers a group of a request's descriptors that share one Redis Cluster slot
 * (on a single Redis, the whole request).
 */

export interface ChargeCall {
  /** Indices into the request's descriptors, in the order their keys are passed. */
  readonly indices: readonly number[];
  readonly numKeys: number;
  readonly keysAndArgs: string[];
}

export interface ChargeReply {
  /** Redis `TIME` of the node that ran the call, in ms since the epoch. */
  readonly nowMs: number;
  /** The call's own decision: exact when it holds the whole request, else possibly optimistic. */
  readonly admitted: boolean;
  /** Counts per descriptor of the group (same order as `indices`), per window. */
  readonly counts: WindowCounts[][];
}

export function encodeChargeCall(
  descriptors: readonly DescriptorCharge[],
  indices: readonly number[],
): ChargeCall {
  return encodeGroup(descriptors, indices, (d, args) => {
    args.push(shapeOf(d));
  });
}

/**
 * A descriptor's CHARGE_SCRIPT argument: `mode|cost|countRejected`, then `|windowMs|limit` per
 * window. The windows' part is made once per window list (a rule's list lives with the compiled
 * policy), so a call builds one short string per descriptor.
 */
function shapeOf(d: DescriptorCharge): string {
  let windows = windowTexts.get(d.windows);
  if (windows === undefined) {
    windows = d.windows.map((w) => `|${w.windowMs}|${w.limit}`).join("");
    windowTexts.set(d.windows, windows);
  }
  return `${d.mode}|${d.cost}|${d.countRejected ? "1" : "0"}${windows}`;
}

const windowTexts = new WeakMap<readonly WindowCharge[], string>();

/** A group's call: its descriptors' counter keys, then what `argsOf` writes for each, in order. */
function encodeGroup(
  descriptors: readonly DescriptorCharge[],
  indices: readonly number[],
  argsOf: (d: DescriptorCharge, args: string[]) => void,
): ChargeCall {
  const keys: string[] = [];
  const args: string[] = [];
  for (const i of indices) {
    const d = descriptors[i];
    if (d === undefined) continue;
    keys.push(d.counterKey);
    argsOf(d, args);
  }
  return { indices, numKeys: keys.length, keysAndArgs: [...keys, ...args] };
}

/**
 * One CHARGE_MANY_SCRIPT call for several whole requests (single Redis): every request's keys, then
 * the request count and, per request, its key count and its shapes (one per key).
 */
export function encodeChargeManyCall(calls: readonly ChargeCall[]): Omit<ChargeCall, "indices"> {
  const keys: string[] = [];
  const args: string[] = [String(calls.length)];
  for (const call of calls) {
    const { numKeys, keysAndArgs } = call;
    args.push(String(numKeys));
    for (let i = 0; i < numKeys; i++) keys.push(keysAndArgs[i] as string);
    for (let i = numKeys; i < keysAndArgs.length; i++) args.push(keysAndArgs[i] as string);
  }
  return { numKeys: keys.length, keysAndArgs: keys.concat(args) };
}

/** Reads `{ nowMs, admitted, then current, previous, passed per window }`. */
export function decodeChargeReply(
  reply: unknown,
  descriptors: readonly DescriptorCharge[],
  indices: readonly number[],
): ChargeReply {
  const { values, counts } = perWindow(reply, "charge", 2, 3, descriptors, indices, (v, at) => ({
    current: v[at] ?? 0,
    previous: v[at + 1] ?? 0,
    passed: v[at + 2] === 1,
  }));
  return { nowMs: values[0] ?? 0, admitted: values[1] === 1, counts };
}

/** One PEEK_SCRIPT call for a group: the same keys as its charge, only the window lengths as args. */
export function encodePeekCall(
  descriptors: readonly DescriptorCharge[],
  indices: readonly number[],
): ChargeCall {
  return encodeGroup(descriptors, indices, (d, args) => {
    args.push(String(d.windows.length), ...d.windows.map((w) => String(w.windowMs)));
  });
}

/** Reads `{ nowMs, then current, previous per window }`; counts per descriptor of the group. */
export function decodePeekReply(
  reply: unknown,
  descriptors: readonly DescriptorCharge[],
  indices: readonly number[],
): PeekResult {
  const { values, counts } = perWindow(reply, "peek", 1, 2, descriptors, indices, (v, at) => ({
    current: v[at] ?? 0,
    previous: v[at + 1] ?? 0,
  }));
  return { nowMs: values[0] ?? 0, counts };
}

/**
 * A flat integer reply cut into `stride` values per window of the group's descriptors after `head`
 * leading values; a reply of another length or type is malformed (a bug, not an outage).
 */
function perWindow<T>(
  reply: unknown,
  what: string,
  head: number,
  stride: number,
  descriptors: readonly DescriptorCharge[],
  indices: readonly number[],
  read: (values: readonly number[], at: number) => T,
): { values: readonly number[]; counts: T[][] } {
  if (!Array.isArray(reply) || !reply.every((v) => typeof v === "number")) throw malformedReply(what);
  const values = reply as number[];
  const windowCount = indices.reduce((n, i) => n + (descriptors[i]?.windows.length ?? 0), 0);
  if (values.length !== head + stride * windowCount) throw malformedReply(what);
  let at = head;
  const counts = indices.map((i) =>
    (descriptors[i]?.windows ?? []).map(() => {
      const window = read(values, at);
      at += stride;
      return window;
    }),
  );
  return { values, counts };
}
