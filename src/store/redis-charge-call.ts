import type { DescriptorCharge, PeekResult, WindowCharge, WindowCounts } from "./counter-store.ts";
import { malformedReply } from "./redis-connection.ts";

/**
 * Encoding of the charge scripts' calls (see redis-charge-script.ts for the layouts) and decoding of
 * their replies, and the same for PEEK_SCRIPT. A call covers a group of a request's descriptors that
 * share one Redis Cluster slot (on a single Redis, the whole request).
 */

/** A request's charge (or a Cluster slot group's), before it is laid out for a script. */
export interface ChargeCall {
  /** Indices into the request's descriptors, in the order of `keys`. */
  readonly indices: readonly number[];
  /** The descriptors' counter keys; the first routes a Cluster call. */
  readonly keys: readonly string[];
  /** Each key's descriptor shape (see shapeOf), in the same order. */
  readonly shapes: readonly string[];
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
  const keys: string[] = [];
  const shapes: string[] = [];
  for (const i of indices) {
    const d = descriptors[i];
    if (d === undefined) continue;
    keys.push(d.counterKey);
    shapes.push(shapeOf(d));
  }
  return { indices, keys, shapes };
}

/** CHARGE_SCRIPT's arguments for one call: its keys, its shape table, each key's shape number. */
export function chargeArgs(call: ChargeCall): ScriptArgs {
  const table = new ShapeTable();
  const numbers = call.shapes.map((shape) => table.number(shape));
  return { numKeys: call.keys.length, keysAndArgs: [...call.keys, ...table.args(), ...numbers] };
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
    for (const key of call.keys) keys.push(key);
    perRequest.push(String(call.keys.length));
    for (const shape of call.shapes) perRequest.push(table.number(shape));
  }
  return { numKeys: keys.length, keysAndArgs: keys.concat(table.args(), perRequest) };
}

/**
 * A descriptor's shape: what its windows are charged by, as text (`mode|cost|countRejected`, then
 * `|windowMs|limit` per window), so that descriptors alike are found alike. The windows' part is
 * made once per window list (a rule's list lives with the compiled policy).
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

/** The distinct shapes of one script call, numbered from 1 in order of first use. */
class ShapeTable {
  readonly #numbers = new Map<string, string>();
  readonly #fields: string[] = [];

  number(shape: string): string {
    let known = this.#numbers.get(shape);
    if (known === undefined) {
      known = String(this.#numbers.size + 1);
      this.#numbers.set(shape, known);
      const [mode = "", cost = "", countRejected = "", ...windows] = shape.split("|");
      this.#fields.push(mode, cost, countRejected, String(windows.length / 2), ...windows);
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
  const keys: string[] = [];
  const args: string[] = [];
  for (const i of indices) {
    const d = descriptors[i];
    if (d === undefined) continue;
    keys.push(d.counterKey);
    args.push(String(d.windows.length), ...d.windows.map((w) => String(w.windowMs)));
  }
  return { numKeys: keys.length, keysAndArgs: [...keys, ...args] };
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
