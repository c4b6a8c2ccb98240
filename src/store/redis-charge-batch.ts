import { type ChargeCall, encodeChargeManyCall } from "./redis-charge-call.ts";
import { malformedReply } from "./redis-connection.ts";

/**
 * Batches the charges issued in one turn of the event loop on a single Redis into one
 * CHARGE_MANY_SCRIPT call (see redis-charge-script.ts), which decides them one after another inside
 * one atomic script, each exactly as its own CHARGE_SCRIPT call would. Under a hot tenant every
 * call serialises on the same keys anyway; one script call for the turn's calls saves Redis the
 * per-call cost (EVALSHA, TIME) and the repeated reads of the same slots. A turn with one charge
 * sends it as it is.
 *
 * Only for a single Redis: on a Cluster one script may only touch keys of one hash slot, so each
 * slot group keeps its own call. Each caller gets its own request's reply (CHARGE_SCRIPT's format)
 * or error; a failed call fails every request in it, as a failed pipeline would.
 */

export interface ChargeSender {
  one(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  many(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

export type BatchedCharge = (call: ChargeCall) => Promise<unknown>;

/** Requests per CHARGE_MANY call at most: bounds how long one script holds Redis. */
export const MAX_BATCH = 64;

interface Pending {
  readonly call: ChargeCall;
  readonly resolve: (reply: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export function batchCharges(send: ChargeSender): BatchedCharge {
  let pending: Pending[] = [];
  const flush = () => {
    const turn = pending;
    pending = [];
    for (let at = 0; at < turn.length; at += MAX_BATCH) sendBatch(send, turn.slice(at, at + MAX_BATCH));
  };
  return (call) =>
    new Promise((resolve, reject) => {
      pending.push({ call, resolve, reject });
      // setImmediate: after the poll phase, so every call the transport handed over in this turn
      // (one socket read holds many) joins the batch; ioredis then writes it on its next tick.
      if (pending.length === 1) setImmediate(flush);
    });
}

function sendBatch(send: ChargeSender, batch: readonly Pending[]): void {
  const [only] = batch;
  if (batch.length === 1 && only !== undefined) {
    send.one(only.call.numKeys, ...only.call.keysAndArgs).then(only.resolve, only.reject);
    return;
  }
  const call = encodeChargeManyCall(batch.map((p) => p.call));
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
