import type { Cluster, Redis } from "ioredis";
import { mastersOf } from "./redis-connection.ts";
import { isErrorReply } from "./redis-store-error.ts";

/**
 * How a Redis frees memory when it is full, read with `CONFIG GET maxmemory*`: its bound in bytes
 * (0: none) and its `maxmemory-policy`.
 */
export interface EvictionSettings {
  readonly node: string;
  readonly maxmemoryBytes: number;
  readonly policy: string;
}

/** One node's settings, or why they could not be read (CONFIG disabled or denied, node gone). */
export type EvictionReading = ({ readonly ok: true } & EvictionSettings) | NotRead;

interface NotRead {
  readonly ok: false;
  readonly node: string;
  readonly reason: string;
  /** The node answered and refused (CONFIG renamed or denied); false: it could not be asked (down, timed out). */
  readonly answered: boolean;
}

/**
 * Whether a Redis may delete Sluice's keys to free memory. It does once it has a bound and any
 * policy but `noeviction`: the `volatile-*` policies evict keys with a TTL, and every key Sluice
 * writes (slot counters, lease sets) has one. An evicted slot key is a counter started again from
 * 0, so its limit admits beyond what it allows. With `noeviction` a full Redis refuses writes
 * instead, and the failure policy answers. Pure.
 */
export function mayEvict({
  maxmemoryBytes,
  policy,
}: Pick<EvictionSettings, "maxmemoryBytes" | "policy">): boolean {
  return maxmemoryBytes > 0 && policy !== "noeviction";
}

/** Reads every node that holds counters: the Redis, or each Cluster master. Never rejects. */
export function readEvictionSettings(client: Redis | Cluster): Promise<EvictionReading[]> {
  return Promise.all(mastersOf(client).map(readNode));
}

async function readNode(redis: Redis): Promise<EvictionReading> {
  const node = nodeName(redis);
  try {
    const reply: unknown = await redis.config("GET", "maxmemory*");
    const settings = new Map<string, string>();
    if (Array.isArray(reply)) {
      for (let i = 0; i + 1 < reply.length; i += 2) settings.set(String(reply[i]), String(reply[i + 1]));
    }
    const maxmemoryBytes = Number(settings.get("maxmemory"));
    const policy = settings.get("maxmemory-policy");
    if (!Number.isSafeInteger(maxmemoryBytes) || policy === undefined) {
      return {
        ok: false,
        node,
        reason: "CONFIG GET maxmemory* did not name maxmemory and maxmemory-policy",
        answered: true,
      };
    }
    return { ok: true, node, maxmemoryBytes, policy };
  } catch (error: unknown) {
    // An error reply (CONFIG denied or renamed); anything else is about reaching the node.
    const answered = isErrorReply(error);
    return { ok: false, node, reason: error instanceof Error ? error.message : String(error), answered };
  }
}

/** `host:port` of the server a connection reaches (the master behind Sentinel), or its socket path. */
function nodeName(redis: Redis): string {
  const { path, host, port } = redis.options;
  if (path !== undefined && path !== null && path !== "") return path;
  const stream = redis.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  if (stream?.remoteAddress !== undefined) return `${stream.remoteAddress}:${stream.remotePort}`;
  return `${host}:${port}`;
}
