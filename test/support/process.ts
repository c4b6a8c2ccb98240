import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

/** When a started process counts as ready: a line of its output, or a probe that answers true. */
export type Readiness = { readonly output: RegExp } | { readonly probe: () => Promise<boolean> };

export interface StartProcessOptions {
  /** Short name for error messages, e.g. `envoy`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly ready: Readiness;
  /** How long to wait for readiness before killing the process and failing (ms). */
  readonly readyTimeoutMs?: number;
  /** Copy the process's output to this process's stderr as it arrives (for `npm run stack`). */
  readonly echo?: boolean;
}

export interface RunningProcess {
  readonly name: string;
  readonly pid: number;
  /** The match of `ready.output` against the output, e.g. to read a port the process chose. */
  readonly readyMatch: RegExpMatchArray | undefined;
  /** Everything the process has printed so far (stdout and stderr interleaved, last 256 KiB). */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. Safe to call twice. */
  stop(graceMs?: number): Promise<number | string>;
}

/** How much of a process's output `output()` keeps: its last 256 KiB. */
export const OUTPUT_LIMIT = 256 * 1024;
const running = new Set<ChildProcess>();

// A test worker that dies mid-suite must not leave Envoy or Redis behind: kill what is still ours.
process.once("exit", () => {
  for (const child of running) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
});

/** Spawns a process, waits until it is ready, and hands back a way to stop it by its PID. */
export async function startProcess(options: StartProcessOptions): Promise<RunningProcess> {
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) {
    const error = await new Promise<Error>((resolve) => child.once("error", resolve));
    throw new Error(`${options.name}: could not start ${options.command}: ${error.message}`);
  }
  running.add(child);

  let output = "";
  const onData = (chunk: Buffer): void => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
    if (options.echo) process.stderr.write(chunk);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);

  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? "unknown");
    });
  });
  let exitStatus: number | string | undefined;
  void exited.then((status) => {
    exitStatus = status;
  });

  const stop = async (graceMs = 5_000): Promise<number | string> => {
    if (exitStatus !== undefined) return exitStatus;
    signal(pid, "SIGTERM");
    const timer = setTimeout(() => signal(pid, "SIGKILL"), graceMs);
    const status = await exited;
    clearTimeout(timer);
    return status;
  };

  const handle: RunningProcess = {
    name: options.name,
    pid,
    readyMatch: undefined,
    output: () => output,
    exited,
    stop,
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  while (true) {
    if (exitStatus !== undefined) {
      throw new Error(`${options.name} exited (${exitStatus}) before it was ready:\n${output}`);
    }
    const ready = options.ready;
    if ("output" in ready) {
      const match = output.match(ready.output);
      if (match) return { ...handle, readyMatch: match };
    } else if (await ready.probe().catch(() => false)) {
      return handle;
    }
    if (Date.now() > deadline) {
      await stop(1_000);
      throw new Error(`${options.name} was not ready in time:\n${output}`);
    }
    await sleep(50);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // The process exited between the check and the signal.
  }
}

/** Whether a process with this PID exists (signal 0 checks without sending anything). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
