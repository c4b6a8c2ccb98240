import { Cluster, type Redis, type RedisOptions } from "ioredis";
import { clusterSlot } from "./cluster-slot.ts";
import { StoreError } from "./counter-store.ts";
import {
  ADD_SCRIPT,
  CHARGE_MANY_SCRIPT,
  CHARGE_NODE_SCRIPT,
  CHARGE_SCRIPT,
  PEEK_SCRIPT,
  REFUND_SCRIPT,
} from "./redis-charge-script.ts";
import { createRedisClient, type RedisTarget } from "./redis-client.ts";

export type { RedisTarget } from "./redis-client.ts";

export interface RedisConnectionOptions {
  /** A command without a reply after this long fails (transient), in ms. Default 1000. */
  readonly commandTimeoutMs?: number;
  /** Bound on establishing a connection, and on the first command's wait for it, in ms. Default 2000. */
  readonly connectTimeoutMs?: number;
  /** Called when the connection becomes usable (true) or is lost (false); only on changes. */
  readonly onStateChange?: (up: boolean) => void;
  /**
   * CA bundle (PEM) that a TLS server's certificate must chain to (`rediss://` URL or seeds), for
   * a private CA; the system's CAs otherwise.
   */
  readonly tlsCa?: Buffer | undefined;
  /** Every connection error ioredis reports (it retries by itself; this is for logging). */
  readonly onError?: (error: Error) => void;
}

/** The scripts as ioredis commands: EVALSHA, falling back to EVAL on NOSCRIPT. */
export interface ScriptCommands {
  sluiceCharge(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  sluiceChargeMany(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  sluiceChargeNode(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  sluiceRefund(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  sluiceAdd(key: string, hits: string, ttlMs: string): Promise<unknown>;
  sluicePeek(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

export interface RedisConnection {
  readonly client: Redis | Cluster;
  readonly scripts: ScriptCommands;
  readonly cluster: boolean;
  /**
   * Resolves once the client is ready. Only the first connection is waited for (bounded by
   * connectTimeoutMs); after that, an outage fails commands at once rather than queueing them.
   */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export function connectRedis(target: RedisTarget, options: RedisConnectionOptions = {}): RedisConnection {
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const common: RedisOptions = {
    commandTimeout: options.commandTimeoutMs ?? 1000,
    connectTimeout: connectTimeoutMs,
    // A charge whose connection dropped may or may not have run; resending it could count a hit
    // twice, so in-flight commands fail at the first reconnect attempt instead of being retried.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelayMs,
  };
  const cluster = "clusterNodes" in target;
  const client = createRedisClient(target, {
    common,
    retryDelayMs: reconnectDelayMs,
    tlsCa: options.tlsCa,
    onError: options.onError,
  });

  client.defineCommand("sluiceCharge", { lua: CHARGE_SCRIPT });
  client.defineCommand("sluiceChargeMany", { lua: CHARGE_MANY_SCRIPT });
  client.defineCommand("sluiceChargeNode", { lua: CHARGE_NODE_SCRIPT });
  client.defineCommand("sluiceRefund", { lua: REFUND_SCRIPT });
  client.defineCommand("sluiceAdd", { lua: ADD_SCRIPT, numberOfKeys: 1 });
  // Not preloaded: peeks are an operator's occasional question, and EVAL covers the first one.
  client.defineCommand("sluicePeek", { lua: PEEK_SCRIPT });
  const scripts = client as unknown as ScriptCommands;

  let up: boolean | undefined;
  const report = (next: boolean) => {
    if (up === next) return;
    up = next;
    options.onStateChange?.(next);
  };
  // ioredis emits 'error' on every failed (re)connect; without a listener Node would throw it.
  client.on("error", (error: Error) => options.onError?.(error));
  if (cluster) client.on("node error", (error: Error) => options.onError?.(error));
  client.on("ready", () => {
    report(true);
    preloadScripts(client);
  });
  client.on("close", () => report(false));
  client.on("end", () => report(false));

  let firstWait: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    if (client.status === "ready") return Promise.resolve();
    firstWait ??= waitForReady(client, connectTimeoutMs);
    return firstWait;
  };

  const close = async (): Promise<void> => {
    try {
      await client.quit();
    } catch {
      // Already disconnected or unreachable: disconnect() below ends it either way.
    }
    client.disconnect();
  };

  return { client, scripts, cluster, ready, close };
}

/**
 * Delay before reconnect attempt `times` (1, 2, ...), in ms: 50, 100, 150, 200, then every 250.
 * ioredis's default backs off to 2 s, which alone would delay noticing a recovered Redis by up to
 * 2 s; a refused connection on loopback or a LAN costs next to nothing, so a short cap is cheap.
 */
export function reconnectDelayMs(times: number): number {
  return Math.min(Math.max(times, 1) * 50, 250);
}

/**
 * Loads the scripts into Redis as soon as a connection is ready (every master of a Cluster), so the
 * first burst after a start, a failover or a restart of Redis runs EVALSHA at once instead of every
 * call of the burst failing with NOSCRIPT and resending the script's text with EVAL. Best effort:
 * ioredis still falls back to EVAL on NOSCRIPT.
 */
function preloadScripts(client: Redis | Cluster): void {
  const cluster = client instanceof Cluster;
  const nodes = mastersOf(client);
  // CHARGE_MANY runs only on a single Redis, CHARGE_NODE only on a Cluster (redis-charge-batch.ts).
  const batched = cluster ? CHARGE_NODE_SCRIPT : CHARGE_MANY_SCRIPT;
  const scripts = [CHARGE_SCRIPT, REFUND_SCRIPT, ADD_SCRIPT, batched];
  for (const node of nodes) {
    for (const lua of scripts) {
      node.script("LOAD", lua).catch(() => {
        // The connection went away again; the fallback to EVAL covers it.
      });
    }
  }
}

/** The servers that hold counters: the Redis itself, or each master a Cluster client knows now. */
export function mastersOf(client: Redis | Cluster): Redis[] {
  return client instanceof Cluster ? client.nodes("master") : [client];
}

/** Waits for the first 'ready'; settles once, so later outages do not wait here again. */
function waitForReady(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off("ready", done);
      resolve();
    };
    // Not ready in time: let the command go and fail with ioredis's own (transient) error.
    const timer = setTimeout(done, timeoutMs);
    client.on("ready", done);
  });
}

/** A reply that does not have the shape the script returns: a bug, not an outage. */
export function malformedReply(what: string): StoreError {
  return new StoreError(`redis: malformed ${what} reply`, { transient: false });
}

/**
 * Which Redis node holds `key`, as far as the client knows now: `host:port` of the master of its
 * slot on a Cluster, `redis` for a single server. The guarded stores keep one circuit per node.
 */
export function redisNodeOf(connection: RedisConnection, key: string): string {
  if (!connection.cluster) return "redis";
  return knownNodeOf(connection, key) ?? "cluster";
}

/** The master of `key`'s slot as the Cluster client knows it now; undefined before it knows. */
export function knownNodeOf(connection: RedisConnection, key: string): string | undefined {
  const client = connection.client;
  return client instanceof Cluster ? client.slots[clusterSlot(key)]?.[0] : undefined;
}
