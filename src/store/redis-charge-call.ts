import type { DescriptorCharge, WindowCounts } from "./counter-store.ts";
import { malformedReply } from "./redis-connection.ts";

/**
 * Encoding of one CHARGE_SCRIPT call (see redis-charge-script.ts for the layout) and decoding of
 * its reply. A call covers a group of a request's descriptors that share one Redis Cluster slot
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
  quotaTotal: number,
): ChargeCall {
  const keys: string[] = [];
  const args: string[] = [String(quotaTotal)];
  for (const i of indices) {
    const d = descriptors[i];
    if (d === undefined) continue;
    keys.push(d.counterKey);
    args.push(d.mode, String(d.cost), d.countRejected ? "1" : "0", String(d.windows.length));
    for (const w of d.windows) args.push(String(w.windowMs), String(w.limit));
  }
  return { indices, numKeys: keys.length, keysAndArgs: [...keys, ...args] };
}

/** Reads `{ nowMs, admitted, then current, previous, passed per window }`. */
export function decodeChargeReply(
  reply: unknown,
  descriptors: readonly DescriptorCharge[],
  indices: readonly number[],
): ChargeReply {
  if (!Array.isArray(reply) || !reply.every((v) => typeof v === "number")) throw malformedReply("charge");
  const values = reply as number[];
  const windowCount = indices.reduce((n, i) => n + (descriptors[i]?.windows.length ?? 0), 0);
  if (values.length !== 2 + 3 * windowCount) throw malformedReply("charge");
  let at = 2;
  const counts = indices.map((i) =>
    (descriptors[i]?.windows ?? []).map((): WindowCounts => {
      const window = {
        current: values[at] ?? 0,
        previous: values[at + 1] ?? 0,
        passed: values[at + 2] === 1,
      };
      at += 3;
      return window;
    }),
  );
  return { nowMs: values[0] ?? 0, admitted: values[1] === 1, counts };
}
