import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { RedisServer } from "./redis-server.ts";

const run = promisify(execFile);

/** One redis-cli command against a test server; resolves to its trimmed output. */
export async function redisCli(server: RedisServer, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(server.port), ...args]);
  return stdout.trim();
}

/** Whether a slot belongs to `server`, from its own `CLUSTER NODES` (the `myself` line). */
export async function slotsOf(server: RedisServer): Promise<(slot: number) => boolean> {
  const nodes = await redisCli(server, "cluster", "nodes");
  const myself = nodes.split("\n").find((line) => line.includes("myself"));
  const ranges = (myself ?? "")
    .split(" ")
    .slice(8)
    .map((range) => range.split("-").map(Number))
    .map(([from = 0, to = from]) => [from, to] as const);
  return (slot) => ranges.some(([from, to]) => slot >= from && slot <= to);
}

/**
 * Moves one hash slot and its keys from `source` to `target` the way `redis-cli --cluster reshard`
 * does: IMPORTING/MIGRATING, MIGRATE of every key, then SETSLOT NODE on every master.
 */
export async function moveSlot(
  slot: number,
  source: RedisServer,
  target: RedisServer,
  masters: readonly RedisServer[],
): Promise<void> {
  const finish = await beginSlotMove(slot, source, target);
  await finish(masters);
}

/**
 * The first step of moveSlot: the slot is IMPORTING on `target` and MIGRATING on `source`, no key
 * moved yet. Resolves to the rest: MIGRATE of every key, then SETSLOT NODE on every master.
 */
export async function beginSlotMove(
  slot: number,
  source: RedisServer,
  target: RedisServer,
): Promise<(masters: readonly RedisServer[]) => Promise<void>> {
  const sourceId = await redisCli(source, "cluster", "myid");
  const targetId = await redisCli(target, "cluster", "myid");
  await redisCli(target, "cluster", "setslot", String(slot), "importing", sourceId);
  await redisCli(source, "cluster", "setslot", String(slot), "migrating", targetId);
  return async (masters) => {
    for (let round = 0; round < 100; round++) {
      const keys = (await redisCli(source, "cluster", "getkeysinslot", String(slot), "100"))
        .split("\n")
        .filter(Boolean);
      if (keys.length === 0) break;
      await redisCli(source, "migrate", "127.0.0.1", String(target.port), "", "0", "5000", "keys", ...keys);
    }
    for (const master of masters)
      await redisCli(master, "cluster", "setslot", String(slot), "node", targetId);
  };
}
