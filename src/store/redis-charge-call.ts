import type { DescriptorCharge, PeekResult, WindowCharge, WindowCounts } from "./counter-store.ts";
import { malformedReply } from "./redis-connection.ts";

/**
 * Encoding of the charge scripts' calls (see redis-charge-script.ts for the layouts) and decoding of
 * their replies, and the same for PEEK_SCRIPT. A call covers a group of a request's descriptors that
 * share one Redis Cluster slot (on a single Redis, the whole request).
 */

/** A request's charge (or a Cluster slot group's), before it is laid out for a script. */
export interface ChargeCall {
  /** Indices into the request's descriptors, in the order of `charges`. */
  readonly indices: readonly number[];
  /** The group's descriptors; the first one's counter key routes a Cluster call. */
  readonly charges: readonly DescriptorCharge[];
}

/** A script call's declared key count and its keys then arguments, as ioredis sends them. */
export interface ScriptArgs {
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
  return { indices, charges: pick(descriptors, indices) };
}

/** The descriptors at `indices`, in that order. */
function pick(descriptors: readonly DescriptorCharge[], indices: readonly number[]): DescriptorCharge[] {
  const picked: DescriptorCharge[] = [];
  for (const i of indices) {
    const d = descriptors[i];
    if (d !== undefined) picked.push(d);
  }
  return picked;
}

/** CHARGE_SCRIPT's arguments for one call: its keys, its shape table, each key's shape number. */
export function chargeArgs(call: ChargeCall): ScriptArgs {
  const table = new ShapeTable();
  const numbers = call.charges.map((d) => table.number(d));
  const keys = call.charges.map((d) => d.counterKey);
  return { numKeys: keys.length, keysAndArgs: [...keys, ...table.args(), ...numbers] };
}

/**
 * CHARGE_MANY_SCRIPT's arguments for several whole requests (CHARGE_NODE_SCRIPT's after its key
 * list): every request's keys, one shape table for them all, the request count and, per request,
 * its key count and its keys' shape numbers.
 */
export function chargeManyArgs(calls: readonly ChargeCall[]): ScriptArgs {
  const table = new ShapeTable();
  const keys: string[] = [];
  const perRequest: string[] = [String(calls.length)];
  for (const call of calls) {
    perRequest.push(String(call.charges.length));
    for (const d of call.charges) {
      keys.push(d.counterKey);
      perRequest.push(table.number(d));
    }
  }
  return { numKeys: keys.length, keysAndArgs: keys.concat(table.args(), perRequest) };
}

/**
 * A window list's part of a shape: its arguments (windowMs, limit per window) and their text, made
 * once per list (a rule's list lives with the compiled policy).
 */
interface WindowsPart {
  readonly args: readonly string[];
  readonly text: string;
}

const windowsParts = new WeakMap<readonly WindowCharge[], WindowsPart>();

function windowsPart(windows: readonly WindowCharge[]): WindowsPart {
  let part = windowsParts.get(windows);
  if (part === undefined) {
    const args = windows.flatMap((w) => [String(w.windowMs), String(w.limit)]);
    part = { args, text: args.join("|") };
    windowsParts.set(windows, part);
  }
  return part;
}

/**
 * The distinct descriptor shapes of one script call (what a descriptor's windows are charged by:
 * mode, cost, countRejected and its windows), numbered from 1 in order of first use.
 */
class ShapeTable {
  readonly #numbers = new Map<string, string>();
  readonly #fields: string[] = [];

  number(d: DescriptorCharge): string {
    const windows = windowsPart(d.windows);
    const countRejected = d.countRejected ? "1" : "0";
    const shape = `${d.mode}|${d.cost}|${countRejected}|${windows.text}`;
    let known = this.#numbers.get(shape);
    if (known === undefined) {
      known = String(this.#numbers.size + 1);
      this.#numbers.set(shape, known);
      this.#fields.push(d.mode, String(d.cost), countRejected, String(d.windows.length), ...windows.args);
    }
    return known;
  }

  /** The table as the scripts read it: the shape count, then each shape's fields. */
  args(): string[] {
    return [String(this.#numbers.size), ...this.#fields];
  }
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
): ScriptArgs {
  const group = pick(descriptors, indices);
  const args = group.flatMap((d) => [String(d.windows.length), ...d.windows.map((w) => String(w.windowMs))]);
  return { numKeys: group.length, keysAndArgs: [...group.map((d) => d.counterKey), ...args] };
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
