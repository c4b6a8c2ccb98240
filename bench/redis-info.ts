import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** What one command cost a Redis server so far, from INFO commandstats (calls, µs inside the command). */
export interface CommandCost {
  readonly calls: number;
  readonly usec: number;
}

/**
 * What the bench's Redis servers say about their own work, read with one `redis-cli INFO all` per
 * server before and after a run, summed over every server given (the Cluster's nodes):
 * - CPU (INFO cpu: used_cpu_sys + used_cpu_user, seconds, the server's whole process);
 * - top-level script calls (EVALSHA + EVAL, the calls Sluice sends);
 * - every command's calls and time (INFO commandstats). A script's own line holds everything the
 *   script did; the commands it ran are also on their own lines, with only their own time.
 */
export interface RedisWork {
  readonly cpuSeconds: number;
  readonly scriptCalls: number;
  readonly commands: ReadonlyMap<string, CommandCost>;
}

export async function redisWork(ports: readonly number[]): Promise<RedisWork | undefined> {
  if (ports.length === 0) return undefined;
  let cpuSeconds = 0;
  const commands = new Map<string, CommandCost>();
  for (const port of ports) {
    const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "info", "all"]);
    cpuSeconds += field(stdout, "used_cpu_sys") + field(stdout, "used_cpu_user");
    for (const match of stdout.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
      const name = match[1] as string;
      const sum = commands.get(name) ?? { calls: 0, usec: 0 };
      commands.set(name, { calls: sum.calls + Number(match[2]), usec: sum.usec + Number(match[3]) });
    }
  }
  const scriptCalls = (commands.get("evalsha")?.calls ?? 0) + (commands.get("eval")?.calls ?? 0);
  return { cpuSeconds, scriptCalls, commands };
}

function field(info: string, name: string): number {
  const match = new RegExp(`^${name}:([0-9.]+)`, "m").exec(info);
  return match === null ? 0 : Number(match[1]);
}
