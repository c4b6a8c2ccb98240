import { isAdmitted } from "../limiter/admission.ts";
import { clusterSlot } from "./cluster-slot.ts";
import { slotKey, slotTtlMs } from "./counter-key.ts";
import type {
  ChargeResult,
  CounterStore,
  DescriptorCharge,
  PeekResult,
  SlotCounts,
  SlotHits,
  WindowCounts,
} from "./counter-store.ts";
import { type BatchedCharge, batchCharges, type ChargeSender } from "./redis-charge-batch.ts";
import {
  type ChargeReply,
  chargeArgs,
  decodeChargeReply,
  decodePeekReply,
  encodeChargeCall,
  encodePeekCall,
} from "./redis-charge-call.ts";
import {
  connectRedis,
  knownNodeOf,
  malformedReply,
  type RedisConnection,
  type RedisConnectionOptions,
  type RedisTarget,
  redisNodeOf,
} from "./redis-connection.ts";
import { type EvictionReading, readEvictionSettings } from "./redis-eviction.ts";
import { isNotLocal, toStoreError } from "./redis-store-error.ts";

/**
 * Waits before each resend of a charge or peek a Cluster node refused as not local, 150 ms in all:
 * the first at once (a stale slot map, or a batch routed by another request's key, is put right by
 * routing the charge by its own key), the others while a slot migration ends.
 */
const NOT_LOCAL_RETRY_MS: readonly number[] = [0, 10, 20, 40, 80];

export type RedisCounterStoreOptions = RedisTarget &
  RedisConnectionOptions & {
    /**
     * Send the charges of one event-loop turn as one script call per server: CHARGE_MANY_SCRIPT on
     * a single Redis, CHARGE_NODE_SCRIPT per Cluster master (redis-charge-batch.ts). Default true.
     */
    readonly batchCharges?: boolean;
  };

/**
 * Counters in Redis, shared by every Sluice instance. The window rule runs inside CHARGE_SCRIPT on
 * the server, against the server's clock, in one EVALSHA round trip per request (single Redis), or
 * one per event-loop turn for all the requests of that turn (CHARGE_MANY_SCRIPT, redis-charge-batch.ts).
 *
 * Redis Cluster: a command's declared keys must share one hash slot. Descriptors are grouped by
 * slot (all windows of a descriptor share its hash tag) and each group is a call of its own, in
 * parallel; the groups of one turn that live on the same master then go out together in one
 * CHARGE_NODE_SCRIPT call, each still decided on its own.
 * - All descriptors in one slot: one call, exactly as atomic as on a single Redis.
 * - Several slots: no call sees the whole request, so admission cannot be decided atomically.
 *   Each group checks its windows and charges at once: countRejected descriptors unconditionally
 *   (they are charged whatever the outcome) and the others tentatively, unless the group already
 *   knows the request is refused (an enforced failure).
 *   The store then decides with isAdmitted over every group's answer and refunds (DECRBY) the
 *   tentative charges of a request that turned out refused.
 *   Trade-off: a window is never over-admitted (every admitted hit was counted when its check
 *   passed, and only refused hits are taken back), but between a tentative charge and its refund
 *   other requests see the extra hits and may be refused early. If the refund fails or the process
 *   dies before it, the refused request stays counted as if countRejected were set; if one group's
 *   call fails, charge() rejects and the other groups' charges stay. Both err towards refusing.
 *   Each group reads its own node's TIME; nowMs is that of the group holding the first descriptor.
 */
export class RedisCounterStore implements CounterStore {
  readonly #connection: RedisConnection;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #send: BatchedCharge;
  readonly #sendAlone: BatchedCharge;

  constructor(options: RedisCounterStoreOptions) {
    const connection = connectRedis(options, options);
    this.#connection = connection;
    this.#onError = options.onError;
    const { scripts } = connection;
    const sender: ChargeSender = {
      one: (numKeys, ...keysAndArgs) => scripts.sluiceCharge(numKeys, ...keysAndArgs),
      // On a Cluster the batch is one master's share: its first key routes it (CHARGE_NODE_SCRIPT).
      many: connection.cluster
        ? (numKeys, ...keysAndArgs) =>
            scripts.sluiceChargeNode(1, keysAndArgs[0] ?? "", String(numKeys), ...keysAndArgs)
        : (numKeys, ...keysAndArgs) => scripts.sluiceChargeMany(numKeys, ...keysAndArgs),
    };
    this.#sendAlone = (call) => {
      const { numKeys, keysAndArgs } = chargeArgs(call);
      return sender.one(numKeys, ...keysAndArgs);
    };
    this.#send =
      options.batchCharges === false
        ? this.#sendAlone
        : connection.cluster
          ? batchCharges(sender, (call) => knownNodeOf(connection, call.charges[0]?.counterKey ?? ""))
          : batchCharges(sender);
  }

  async charge(descriptors: readonly DescriptorCharge[]): Promise<ChargeResult> {
    await this.#connection.ready();
    const groups = this.#groups(descriptors);
    const replies = await this.#callAll(descriptors, groups);

    const counts: WindowCounts[][] = descriptors.map(() => []);
    groups.forEach((indices, g) => {
      indices.forEach((i, n) => {
        counts[i] = replies[g]?.counts[n] ?? [];
      });
    });
    const admitted = isAdmitted(
      descriptors.map((d, i) => ({ mode: d.mode, failed: (counts[i] ?? []).some((w) => !w.passed) })),
    );
    if (!admitted) await this.#refund(descriptors, groups, replies, counts);
    const nowMs = replies[0]?.nowMs;
    if (nowMs === undefined) throw malformedReply("charge");
    return { nowMs, admitted, counts };
  }

  /** One read-only PEEK_SCRIPT call per Cluster slot group, all sent at once; nowMs as for a charge. */
  async peek(descriptors: readonly DescriptorCharge[]): Promise<PeekResult> {
    await this.#connection.ready();
    const groups = this.#groups(descriptors);
    const read = async (indices: number[]) => {
      const call = encodePeekCall(descriptors, indices);
      const reply = await this.#untilServed(() =>
        this.#connection.scripts.sluicePeek(call.numKeys, ...call.keysAndArgs),
      );
      return decodePeekReply(reply, descriptors, indices);
    };
    let replies: PeekResult[];
    try {
      replies = await Promise.all(groups.map(read));
    } catch (error: unknown) {
      throw toStoreError(error);
    }
    const counts: (readonly SlotCounts[])[] = descriptors.map(() => []);
    groups.forEach((indices, g) => {
      indices.forEach((i, n) => {
        counts[i] = replies[g]?.counts[n] ?? [];
      });
    });
    const nowMs = replies[0]?.nowMs;
    if (nowMs === undefined) throw malformedReply("peek");
    return { nowMs, counts };
  }

  /** One ADD_SCRIPT call per slot key, all sent at once (each key may live on its own Cluster node). */
  async addHits(hits: readonly SlotHits[]): Promise<void> {
    await this.#connection.ready();
    const added = hits.map((h) =>
      this.#connection.scripts.sluiceAdd(
        slotKey(h.counterKey, h.windowMs, h.slot),
        String(h.hits),
        String(slotTtlMs(h.windowMs)),
      ),
    );
    const settled = await Promise.allSettled(added);
    for (const outcome of settled) if (outcome.status === "rejected") throw toStoreError(outcome.reason);
  }

  async ping(): Promise<void> {
    await this.#connection.ready();
    try {
      await this.#connection.client.ping();
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** Each node's memory bound and eviction policy, for a warning where Redis may evict counters. */
  evictionSettings(): Promise<EvictionReading[]> {
    return readEvictionSettings(this.#connection.client);
  }

  close(): Promise<void> {
    return this.#connection.close();
  }

  /** Which Redis node holds a counter (redis-connection.ts), for the guard's circuit per node. */
  partitionOf(counterKey: string): string {
    return redisNodeOf(this.#connection, counterKey);
  }

  /** One group per Cluster slot in order of first appearance; on a single Redis, one group. */
  #groups(descriptors: readonly DescriptorCharge[]): number[][] {
    if (!this.#connection.cluster || descriptors.length === 0) return [descriptors.map((_, i) => i)];
    const bySlot = new Map<number, number[]>();
    descriptors.forEach((d, i) => {
      const slot = clusterSlot(d.counterKey);
      const group = bySlot.get(slot);
      if (group === undefined) bySlot.set(slot, [i]);
      else group.push(i);
    });
    return [...bySlot.values()];
  }

  /** One script call per group, all sent at once; the first failure, once all have settled. */
  async #callAll(descriptors: readonly DescriptorCharge[], groups: number[][]): Promise<ChargeReply[]> {
    // A single Redis (and most Cluster calls) has one group: no allSettled bookkeeping per call.
    if (groups.length === 1) {
      try {
        return [await this.#call(descriptors, groups[0] as number[])];
      } catch (error: unknown) {
        throw toStoreError(error);
      }
    }
    const settled = await Promise.allSettled(groups.map((g) => this.#call(descriptors, g)));
    const replies: ChargeReply[] = [];
    for (const outcome of settled) {
      if (outcome.status === "rejected") throw toStoreError(outcome.reason);
      replies.push(outcome.value);
    }
    return replies;
  }

  async #call(descriptors: readonly DescriptorCharge[], indices: number[]) {
    const call = encodeChargeCall(descriptors, indices);
    // A resent charge goes on its own, routed by its own key (not in a batch routed by another's).
    const reply = await this.#untilServed((attempt) =>
      attempt === 0 ? this.#send(call) : this.#sendAlone(call),
    );
    return decodeChargeReply(reply, descriptors, indices);
  }

  /**
   * Sends a script call; while a Cluster node refuses it as not local (see isNotLocal), sends it
   * again after NOT_LOCAL_RETRY_MS. A refused call changed nothing (every key is read before any is
   * written), so a charge is never counted twice. A migration that outlasts the retries fails the
   * call like an outage (transient: the failure policy answers a charge, a peek fails with 503). A
   * caller whose deadline passed meanwhile has been answered by the failure policy already; a later
   * resend that is served still counts that call, as a slow reply would.
   */
  async #untilServed<T>(send: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await send(attempt);
      } catch (error: unknown) {
        const delayMs = NOT_LOCAL_RETRY_MS[attempt];
        if (delayMs === undefined || !isNotLocal(error)) throw error;
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /**
   * Takes back tentative charges of groups that admitted on their own, for descriptors that do not
   * count rejected hits. Best effort: the refusal stands even if a refund fails.
   */
  async #refund(
    descriptors: readonly DescriptorCharge[],
    groups: number[][],
    replies: ChargeReply[],
    counts: WindowCounts[][],
  ): Promise<void> {
    const refunds = groups.map(async (indices, g) => {
      const reply = replies[g];
      if (reply === undefined || !reply.admitted) return;
      const targets: { i: number; j: number; key: string; cost: number }[] = [];
      for (const i of indices) {
        const d = descriptors[i];
        if (d === undefined || d.countRejected || d.cost === 0) continue;
        d.windows.forEach((w, j) => {
          const key = slotKey(d.counterKey, w.windowMs, Math.floor(reply.nowMs / w.windowMs));
          targets.push({ i, j, key, cost: d.cost });
        });
      }
      if (targets.length === 0) return;
      try {
        const after = await this.#connection.scripts.sluiceRefund(
          targets.length,
          ...targets.map((t) => t.key),
          ...targets.map((t) => String(t.cost)),
        );
        if (!Array.isArray(after) || after.length !== targets.length) throw malformedReply("refund");
        // A counter named twice in one request is refunded twice; both report the final count,
        // as they would have had it never been charged.
        const final = new Map<string, unknown>(targets.map((t, n) => [t.key, after[n]]));
        for (const t of targets) {
          const window = counts[t.i]?.[t.j];
          const current = final.get(t.key);
          if (window !== undefined && typeof current === "number") {
            (counts[t.i] as WindowCounts[])[t.j] = { ...window, current };
          }
        }
      } catch (error) {
        this.#onError?.(toStoreError(error));
      }
    });
    await Promise.all(refunds);
  }
}
