import type { Cluster, Redis } from "ioredis";
import { KEY_PREFIX } from "./counter-key.ts";
import type { LeaseCallOptions, LeaseGrant, LeaseRelease, LeaseRequest, LeaseStore } from "./lease-store.ts";
import {
  connectRedis,
  malformedReply,
  type RedisConnection,
  type RedisConnectionOptions,
  type RedisTarget,
  redisNodeOf,
} from "./redis-connection.ts";
import { ACQUIRE_LEASE_SCRIPT, COUNT_LEASES_SCRIPT, RELEASE_LEASE_SCRIPT } from "./redis-lease-script.ts";
import { toStoreError } from "./redis-store-error.ts";

export type RedisLeaseStoreOptions = RedisTarget & RedisConnectionOptions;

/** Where every instance hears of freed slots; the message is the lease set's key. */
export const LEASE_RELEASE_CHANNEL = `${KEY_PREFIX}lease-released`;

interface LeaseCommands {
  sluiceLeaseAcquire(
    key: string,
    leaseId: string,
    max: string,
    ttlMs: string,
    channel: string,
    deadlineMs: string,
  ): Promise<unknown>;
  sluiceLeaseRelease(key: string, leaseId: string, channel: string): Promise<unknown>;
  sluiceLeaseCount(key: string): Promise<unknown>;
}

/**
 * Leases in Redis, shared by every Sluice instance: one script call per acquire, release and count,
 * against the server's clock (redis-lease-script.ts). A second connection subscribes to the release
 * channel, so a slot freed through one instance wakes the requests queued at every other.
 *
 * Pub/sub is at-most-once: a message published while an instance's subscriber is reconnecting is
 * lost. The queue (lease-queue.ts) therefore also retries on its own, and at the earliest expiry.
 * On Redis Cluster a lease set is one key, so each script stays in one slot; PUBLISH reaches
 * subscribers on every node.
 */
export class RedisLeaseStore implements LeaseStore {
  readonly #connection: RedisConnection;
  readonly #commands: LeaseCommands;
  readonly #subscriber: Redis | Cluster;
  readonly #listeners = new Set<(key: string) => void>();
  readonly #onError: ((error: Error) => void) | undefined;

  constructor(options: RedisLeaseStoreOptions) {
    this.#onError = options.onError;
    this.#connection = connectRedis(options, options);
    const client = this.#connection.client;
    client.defineCommand("sluiceLeaseAcquire", { numberOfKeys: 1, lua: ACQUIRE_LEASE_SCRIPT });
    client.defineCommand("sluiceLeaseRelease", { numberOfKeys: 1, lua: RELEASE_LEASE_SCRIPT });
    client.defineCommand("sluiceLeaseCount", { numberOfKeys: 1, lua: COUNT_LEASES_SCRIPT });
    this.#commands = client as unknown as LeaseCommands;

    // duplicate() keeps the target, credentials and timeouts. With the offline queue off, SUBSCRIBE
    // can only be sent once connected, so it is sent on every 'ready' (again after a reconnect).
    this.#subscriber = client.duplicate();
    this.#subscriber.on("ready", () => {
      this.#subscriber.subscribe(LEASE_RELEASE_CHANNEL).catch((error: unknown) => this.#report(error));
    });
    this.#subscriber.on("error", (error: Error) => this.#report(error));
    this.#subscriber.on("message", (channel: string, key: string) => {
      if (channel !== LEASE_RELEASE_CHANNEL) return;
      for (const listener of this.#listeners) listener(key);
    });
  }

  async acquire(request: LeaseRequest, options?: LeaseCallOptions): Promise<LeaseGrant> {
    await this.#connection.ready();
    let reply: unknown;
    try {
      reply = await this.#commands.sluiceLeaseAcquire(
        request.key,
        request.leaseId,
        String(request.max),
        String(request.ttlMs),
        LEASE_RELEASE_CHANNEL,
        // A call without a deadline (gRPC's Infinity) is never late.
        Number.isFinite(options?.deadlineMs) ? String(Math.floor(options?.deadlineMs as number)) : "",
      );
    } catch (error) {
      throw toStoreError(error);
    }
    const [granted, held, expired, nextExpiryMs, late] = integers(reply, 5, "lease acquire") as [
      number,
      number,
      number,
      number,
      number,
    ];
    return {
      granted: granted === 1,
      held,
      expired,
      nextExpiryMs: granted === 1 || nextExpiryMs < 0 ? undefined : nextExpiryMs,
      late: late === 1 ? true : undefined,
    };
  }

  async release(key: string, leaseId: string): Promise<LeaseRelease> {
    await this.#connection.ready();
    let reply: unknown;
    try {
      reply = await this.#commands.sluiceLeaseRelease(key, leaseId, LEASE_RELEASE_CHANNEL);
    } catch (error) {
      throw toStoreError(error);
    }
    const [released, held, expired] = integers(reply, 3, "lease release") as [number, number, number];
    return { released: released === 1, held, expired };
  }

  async held(key: string): Promise<number> {
    await this.#connection.ready();
    let reply: unknown;
    try {
      reply = await this.#commands.sluiceLeaseCount(key);
    } catch (error) {
      throw toStoreError(error);
    }
    if (!Number.isInteger(reply)) throw malformedReply("lease count");
    return reply as number;
  }

  /**
   * Which Redis node holds a lease set (redis-connection.ts), for a circuit per node. A lease key
   * keeps its counter's `{hash tag}`, so it is the node that holds the counter's windows too.
   */
  partitionOf(key: string): string {
    return redisNodeOf(this.#connection, key);
  }

  onRelease(listener: (key: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#subscriber.disconnect();
    await this.#connection.close();
  }

  #report(error: unknown): void {
    this.#onError?.(error instanceof Error ? error : new Error(String(error)));
  }
}

function integers(reply: unknown, length: number, what: string): number[] {
  if (!Array.isArray(reply) || reply.length !== length || !reply.every((v) => Number.isInteger(v))) {
    throw malformedReply(what);
  }
  return reply as number[];
}
