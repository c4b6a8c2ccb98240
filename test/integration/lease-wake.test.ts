import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { createLeaseQueue, type LeaseQueue } from "../../src/limiter/lease-queue.ts";
import { counterKey } from "../../src/store/counter-key.ts";
import { type LeaseStore, leaseKey } from "../../src/store/lease-store.ts";
import { RedisLeaseStore } from "../../src/store/redis-lease-store.ts";
import { systemTimers } from "../../src/timers.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";

// How soon a request queued at one Sluice instance gets the slot a release frees at another, both
// on one real Redis: the release script publishes the set's key, the other instance's subscriber
// wakes its waiters. Measured with the pub/sub notice and with it lost (the retry interval then
// bounds the wait). Each figure is printed; the assertions only hold it under the queue timeout.

const RETRY_INTERVAL_MS = 100;
const QUEUE_TIMEOUT_MS = 1_000;
const ROUNDS = 20;

let redis: RedisServer;
const stores: LeaseStore[] = [];
const queues: LeaseQueue[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const queue of queues) queue.close();
  await Promise.all(stores.map((s) => s.close()));
  await redis?.stop();
});

function instance(hearsReleases: boolean): LeaseQueue {
  const store = new RedisLeaseStore({ url: redis.url });
  stores.push(store);
  const seen: LeaseStore = hearsReleases ? store : { ...bind(store), onRelease: () => () => {} };
  const queue = createLeaseQueue({
    store: seen,
    clock: systemClock,
    timers: systemTimers,
    retryIntervalMs: RETRY_INTERVAL_MS,
  });
  queues.push(queue);
  return queue;
}

function bind(store: LeaseStore): LeaseStore {
  return {
    acquire: (r) => store.acquire(r),
    release: (k, id) => store.release(k, id),
    held: (k) => store.held(k),
    onRelease: (l) => store.onRelease(l),
    close: () => store.close(),
  };
}

/** ms from a release at `here` until the request queued at `there` holds the slot, per round. */
async function wakeDelays(here: LeaseQueue, there: LeaseQueue): Promise<number[]> {
  const delays: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const key = leaseKey(counterKey(`wake:${round}:${Math.random()}`));
    const lease = (leaseId: string) => ({ key, leaseId, max: 1, ttlMs: 60_000 });
    expect(await here.acquire(lease("holder"), { queueTimeoutMs: 0 })).toMatchObject({ granted: true });
    const waiting = there.acquire(lease("waiter"), { queueTimeoutMs: QUEUE_TIMEOUT_MS });
    // Let the waiter find the set full and settle into its queue (retry timer armed) first.
    await sleep(30 + (round % 5) * 7);
    const releasedAt = performance.now();
    await here.release(key, "holder");
    const outcome = await waiting;
    expect(outcome).toMatchObject({ granted: true, queued: true });
    delays.push(performance.now() - releasedAt);
  }
  return delays;
}

function summary(delays: number[]): string {
  const sorted = [...delays].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]?.toFixed(1);
  return `median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms over ${sorted.length} rounds`;
}

describe("a release at one instance wakes a request queued at another", () => {
  it("through the store's pub/sub notice", async () => {
    const delays = await wakeDelays(instance(true), instance(true));
    console.info(`cross-instance wake, pub/sub: ${summary(delays)}`);
    for (const delay of delays) expect(delay).toBeLessThan(QUEUE_TIMEOUT_MS);
  });

  it("within the retry interval when the notice is lost", async () => {
    const delays = await wakeDelays(instance(true), instance(false));
    console.info(
      `cross-instance wake, notice lost (retry every ${RETRY_INTERVAL_MS} ms): ${summary(delays)}`,
    );
    for (const delay of delays) expect(delay).toBeLessThan(QUEUE_TIMEOUT_MS);
  });
});
