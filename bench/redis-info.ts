import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * What the bench's Redis servers say about their own work, read with `redis-cli INFO` before and
 * after a run: CPU (INFO cpu: used_cpu_sys + used_cpu_user, seconds, the server's whole process)
 * and top-level script calls (INFO commandstats: EVALSHA + EVAL, the calls Sluice sends; commands a
 * script runs inside are counted under their own names, not here). Summed over every server given
 * (the Cluster's nodes).
 */
export interface RedisWork {
  readonly cpuSeconds: number;
  readonly scriptCalls: number;
}

export async function redisWork(ports: readonly number[]): Promise<RedisWork | undefined> {
  if (ports.length === 0) return undefined;
  let cpuSeconds = 0;
  let scriptCalls = 0;
  for (const port of ports) {
    const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "info", "all"]);
    cpuSeconds += field(stdout, "used_cpu_sys") + field(stdout, "used_cpu_user");
    scriptCalls += calls(stdout, "evalsha") + calls(stdout, "eval");
  }
  return { cpuSeconds, scriptCalls };
}

function field(info: string, name: string): number {
  const match = new RegExp(`^${name}:([0-9.]+)`, "m").exec(info);
  return match === null ? 0 : Number(match[1]);
}

function calls(info: string, command: string): number {
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info);
  return match === null ? 0 : Number(match[1]);
}

/** What one command cost a Redis server so far, from INFO commandstats (calls, µs inside the command). */
export interface CommandCost {
  readonly calls: number;
  readonly usec: number;
}

/**
 * INFO commandstats by command, summed over the servers given (a Cluster's nodes). A script's own line
 * (evalsha) holds everything the script did; the commands it ran are also on their own lines, with
 * only their own time.
 */
export async function commandCosts(ports: readonly number[]): Promise<Map<string, CommandCost>> {
  const costs = new Map<string, CommandCost>();
  for (const port of ports) {
    const { stdout } = await run("redis-cli", [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "info",
      "commandstats",
    ]);
    for (const match of stdout.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
      const name = match[1] as string;
      const sum = costs.get(name) ?? { calls: 0, usec: 0 };
      costs.set(name, { calls: sum.calls + Number(match[2]), usec: sum.usec + Number(match[3]) });
    }
  }
  return costs;
}
