import { createHash } from "node:crypto";

/**
 * Counter key naming, shared by every store (the Redis charge script builds slot keys the same way).
 *
 * A counter id comes from the policy matcher (domain plus descriptor entries) and may be long or hold
 * any characters a client sent, so it never reaches Redis as is: it is hashed to a fixed-length base.
 */

/** Every key Sluice writes starts with this, so operators can find (and SCAN) them. */
export const KEY_PREFIX = "sluice:";

/**
 * Extra lifetime of a slot key beyond the 2W it is read for, in milliseconds: covers clock skew
 * between the instant a slot is first charged and the last read of it as "previous".
 */
export const SLOT_TTL_MARGIN_MS = 1000;

/**
 * `sluice:{<22 base64url chars>}`: the first 128 bits of SHA-256 over the id. 128 bits keeps
 * accidental collisions out of reach (birthday bound ~2^64 ids) while keeping keys short.
 *
 * The id is hashed as UTF-16LE code units rather than UTF-8: a JavaScript string may hold lone
 * surrogates, which UTF-8 encoding replaces with U+FFFD and so would map two ids to one key.
 *
 * The braces are a Redis Cluster hash tag: only the text inside them picks the hash slot, so every
 * window and slot key derived from this base (see `slotKey`) lands in the same Cluster slot and one
 * script can touch them all. base64url has no braces, so the tag cannot end early.
 */
export function counterKey(counterId: string): string {
  const digest = createHash("sha256").update(counterId, "utf16le").digest();
  return `${KEY_PREFIX}{${digest.subarray(0, 16).toString("base64url")}}`;
}

/**
 * The key of slot k (k = floor(t / windowMs)) of one window of a counter: `<base>:<windowMs>:<k>`.
 * The Redis charge script builds the same string in Lua; keep the two in step.
 */
export function slotKey(base: string, windowMs: number, slot: number): string {
  return `${base}:${windowMs}:${slot}`;
}

/**
 * How long a slot key lives after its first charge, in milliseconds. A slot is charged and read as
 * "current" for one window length and read as "previous" for the next, so it must outlive its start
 * by 2W; its first charge is at or after its start, so the lifetime is set once, when it is created.
 */
export function slotTtlMs(windowMs: number): number {
  return 2 * windowMs + SLOT_TTL_MARGIN_MS;
}
