import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/sluice.js", import.meta.url));

/** Children still running, killed if the test process exits without stopping them (a failed test). */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface SluiceProcess {
  readonly grpcAddress: string;
  readonly adminUrl: string;
  readonly pid: number;
  /** Everything the process wrote so far. */
  output(): string;
  /** SIGTERM and wait for exit (SIGKILL after `graceMs`); resolves to the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts `sluice serve` as a separate process on free loopback ports (port 0) and waits for its
 * "serving" log line, which carries the bound ports.
 */
export async function startSluice(
  args: readonly string[],
  env: Record<string, string> = {},
  {
    productDefaults = false,
    ownFlags = true,
  }: {
    productDefaults?: boolean;
    /** false: `serve` with `args` alone, so the environment picks the ports (a drop-in's env, say). */
    ownFlags?: boolean;
  } = {},
): Promise<SluiceProcess> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      "serve",
      ...(ownFlags ? ["--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"] : []),
      // The product's default worker count when a test asks for the product's defaults.
      ...(productDefaults || !ownFlags ? [] : singleProcess(args)),
      ...args,
    ],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  running.add(child);
  child.once("exit", () => running.delete(child));
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const ports = await waitForServing(child, () => output);
  return {
    grpcAddress: `127.0.0.1:${ports.grpcPort}`,
    adminUrl: `http://127.0.0.1:${ports.adminPort}`,
    pid: child.pid ?? -1,
    output: () => output,
    stop: (graceMs = 5_000) => stopProcess(child, graceMs),
  };
}

function waitForServing(
  child: ChildProcess,
  output: () => string,
): Promise<{ grpcPort: number; adminPort: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`sluice did not start within 20 s:\n${output()}`));
    }, 20_000);
    const onData = () => {
      for (const line of output().split("\n")) {
        if (!line.startsWith("{")) continue;
        const record = JSON.parse(line) as { msg?: string; grpcPort?: number; adminPort?: number };
        if (record.msg === "serving" && record.grpcPort && record.adminPort) {
          clearTimeout(timer);
          child.stdout?.off("data", onData);
          resolve({ grpcPort: record.grpcPort, adminPort: record.adminPort });
          return;
        }
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sluice exited with ${code} before serving:\n${output()}`));
    });
  });
}

export function stopProcess(child: ChildProcess, graceMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    child.kill("SIGTERM");
  });
}

/** The JSON log records a process has printed so far, in order (text lines are skipped). */
export function logLines(sluice: Pick<SluiceProcess, "output">): Record<string, unknown>[] {
  return sluice
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Runs `sluice <args>` (with `env` added to this process's environment) to completion and returns its exit code and output. */
export function runSluice(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * One process unless a test asks for `--workers`: the product default with Redis is one worker per
 * core, and most tests reason about a single process (one connection, one policy reload, one log).
 */
function singleProcess(args: readonly string[]): string[] {
  return args.some((a) => a === "--workers" || a.startsWith("--workers=")) ? [] : ["--workers", "1"];
}
