import { readFileSync } from "node:fs";
import { availableParallelism, loadavg, totalmem } from "node:os";

/** The facts a benchmark figure is meaningless without: where it ran and how busy the machine was. */
export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line !== undefined) cpuModel = line.slice(line.indexOf(":") + 1).trim();
  } catch {
    // Not Linux: the model stays unknown.
  }
  return {
    cores: availableParallelism(),
    cpuModel,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export function loadAverages(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}
