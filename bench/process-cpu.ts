import { readFile } from "node:fs/promises";

/**
 * CPU time (user + system) used so far by a process and its descendants (cluster workers), in
 * milliseconds, from /proc. Measured around a run it gives the server's CPU cost per call, which
 * other load on the machine disturbs far less than throughput. Undefined where /proc is missing.
 */
export async function processTreeCpuMs(pid: number): Promise<number | undefined> {
  try {
    let total = await ownCpuMs(pid);
    for (const child of await childPids(pid)) total += (await processTreeCpuMs(child)) ?? 0;
    return total;
  } catch {
    return undefined;
  }
}

// Clock ticks per second of /proc/<pid>/stat times: 100 on every Linux this runs on (USER_HZ).
const TICKS_PER_SECOND = 100;

async function ownCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text
    .split(" ")
    .filter((s) => s.trim() !== "")
    .map(Number);
}
