import { type ChargeCall, chargeArgs, chargeManyArgs } from "./redis-charge-call.ts";
import { malformedReply } from "./redis-connection.ts";

/**
 * Batches the charges issued in one turn of the event loop into one script call per Redis server
 * (see redis-charge-script.ts), which decides them one after another inside one atomic script,
 * each exactly as its own CHARGE_SCRIPT call would. Under a hot tenant every call serialises on the
 * same keys anyway; one script call for the turn's calls saves Redis the per-call cost (EVALSHA,
 * TIME) and the repeated reads of the same slots. A server with one charge in the turn gets it as
 * it is.
 *
 * - A single Redis: the whole turn goes out as one CHARGE_MANY_SCRIPT call.
 * - A Cluster: `nodeOf` names the master that serves a call's keys (one hash slot per call), and
 *   each master gets one CHARGE_NODE_SCRIPT call for its share of the turn. A call whose node is
 *   not known yet goes on its own. A request the node no longer serves gets that node's "non local
 *   key" error as its own reply; the store sends it again (redis-counter-store.ts).
 *
 * Each caller gets its own request's reply (CHARGE_SCRIPT's format) or error; a failed script call
 * fails every request in it, as a failed pipeline would.
 */

export interface ChargeSender {
  one(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /** A CHARGE_MANY layout (chargeManyArgs); the sender picks the script for it. */
  many(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

export type BatchedCharge = (call: ChargeCall) => Promise<unknown>;

/** Requests per batched call at most: bounds how long one script holds Redis. */
export const MAX_BATCH = 64;

/** The server a call's keys live on; undefined sends the call alone. Absent: one server. */
export type NodeOf = (call: ChargeCall) => string | undefined;

interface Pending {
  readonly call: ChargeCall;
  readonly resolve: (reply: unknown) => void;
  readonly reject: (error: unknown) => void;
}

const ONE_SERVER = "";

export function batchCharges(send: ChargeSender, nodeOf: NodeOf = () => ONE_SERVER): BatchedCharge {
  let pending: Pending[] = [];
  const flush = () => {
    const turn = pending;
    pending = [];
    const byNode = new Map<string, Pending[]>();
    for (const p of turn) {
      const node = nodeOf(p.call);
      if (node === undefined) {
        sendOne(send, p);
        continue;
      }
      const share = byNode.get(node);
      if (share === undefined) byNode.set(node, [p]);
      else share.push(p);
    }
    for (const share of byNode.values()) {
      for (let at = 0; at < share.length; at += MAX_BATCH) sendBatch(send, share.slice(at, at + MAX_BATCH));
    }
  };
  return (call) =>
    new Promise((resolve, reject) => {
      pending.push({ call, resolve, reject });
      // setImmediate: after the poll phase, so every call the transport handed over in this turn
      // (one socket read holds many) joins the batch; ioredis then writes it on its next tick.
      if (pending.length === 1) setImmediate(flush);
    });
}

function sendOne(send: ChargeSender, p: Pending): void {
  const { numKeys, keysAndArgs } = chargeArgs(p.call);
  send.one(numKeys, ...keysAndArgs).then(p.resolve, p.reject);
}

function sendBatch(send: ChargeSender, batch: readonly Pending[]): void {
  const [only] = batch;
  if (batch.length === 1 && only !== undefined) return sendOne(send, only);
  const call = chargeManyArgs(batch.map((p) => p.call));
  send.many(call.numKeys, ...call.keysAndArgs).then(
    (replies) => {
      if (!Array.isArray(replies) || replies.length !== batch.length) {
        const error = malformedReply("charge many");
        for (const p of batch) p.reject(error);
        return;
      }
      // A request whose commands failed inside the script has its error as its reply.
      batch.forEach((p, i) => {
        const reply: unknown = replies[i];
        if (reply instanceof Error) p.reject(reply);
        else p.resolve(reply);
      });
    },
    (error: unknown) => {
      for (const p of batch) p.reject(error);
    },
  );
}
