import { execFile, execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { freePort } from "../support/free-port.ts";

// docker-compose.yml brought up unchanged in real containers by podman-compose (pinned in
// scripts/container-images.sh, which also builds the local stand-ins for the pulled images). Each
// run is its own compose project, `sluice-e2e-<pid>`, on free host ports, so it cannot meet a
// user's `sluice` project or another test; `down` removes its containers, network and volumes.

const root = resolve(import.meta.dirname, "../..");
const podmanCompose = resolve(root, ".tools/venv/bin/podman-compose");
const PROJECT_PREFIX = "sluice-e2e-";
const run = promisify(execFile);

export type ComposeService = "redis" | "sluice" | "upstream" | "envoy" | "prometheus";
/** The services with a compose healthcheck; podman 4.3 runs none by itself (no systemd timers). */
const CHECKED: readonly ComposeService[] = ["redis", "sluice", "upstream", "envoy"];

export interface ComposeStack {
  readonly project: string;
  readonly envoyUrl: string;
  readonly envoyAdminUrl: string;
  readonly sluiceAdminUrl: string;
  readonly prometheusUrl: string;
  /** `podman stop` (SIGTERM, then SIGKILL after the compose stop_grace_period) and `podman start`. */
  stopService(service: ComposeService): Promise<void>;
  startService(service: ComposeService): Promise<void>;
  /** Runs a command inside a service's container; resolves with its stdout. */
  exec(service: ComposeService, command: readonly string[]): Promise<string>;
  /** Whether the service's compose healthcheck passes now. */
  healthy(service: ComposeService): Promise<boolean>;
  /** Containers, networks and volumes of this project still present (empty after stop()). */
  leftovers(): string[];
  stop(): Promise<void>;
}

export async function startComposeStack(): Promise<ComposeStack> {
  removeAbandonedProjects();
  const project = `${PROJECT_PREFIX}${process.pid}`;
  const ports = {
    ENVOY_HOST_PORT: await freePort(),
    ENVOY_ADMIN_HOST_PORT: await freePort(),
    SLUICE_ADMIN_HOST_PORT: await freePort(),
    PROMETHEUS_HOST_PORT: await freePort(),
  };
  const env = {
    ...process.env,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  };
  const down = () => composeDown(project, env);
  // A crashed or interrupted worker still takes its containers down; afterAll is the usual path.
  const onExit = () => down();
  const onSignal = (signal: NodeJS.Signals) => {
    down();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("exit", onExit);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const container = (service: ComposeService) => `${project}_${service}_1`;
  const podman = async (...args: string[]) => (await run("podman", args, { timeout: 60_000 })).stdout;
  const healthy = async (service: ComposeService) =>
    podman("healthcheck", "run", container(service)).then(
      () => true,
      () => false,
    );
  const stack: ComposeStack = {
    project,
    envoyUrl: `http://127.0.0.1:${ports.ENVOY_HOST_PORT}`,
    envoyAdminUrl: `http://127.0.0.1:${ports.ENVOY_ADMIN_HOST_PORT}`,
    sluiceAdminUrl: `http://127.0.0.1:${ports.SLUICE_ADMIN_HOST_PORT}`,
    prometheusUrl: `http://127.0.0.1:${ports.PROMETHEUS_HOST_PORT}`,
    stopService: async (service) => void (await podman("stop", container(service))),
    startService: async (service) => void (await podman("start", container(service))),
    exec: (service, command) => podman("exec", container(service), ...command),
    healthy,
    leftovers: () => leftovers(project),
    stop: async () => {
      process.off("exit", onExit);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      down();
    },
  };
  try {
    // Builds sluice:dev and sluice-upstream:dev from the Dockerfile (layer cache kept between runs).
    await run(podmanCompose, ["-p", project, "up", "-d", "--build"], {
      cwd: root,
      env,
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    // podman 4.3 ignores depends_on's service_healthy, so health is awaited here instead.
    await until(
      async () => (await Promise.all(CHECKED.map(healthy))).every(Boolean),
      120_000,
      "healthy services",
    );
    return stack;
  } catch (error) {
    down();
    throw error;
  }
}

/** Polls `check` every 500 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

/** Synchronous, so the exit hook can run it. Safe to repeat: `down` of a gone project does nothing. */
function composeDown(project: string, env: NodeJS.ProcessEnv): void {
  try {
    execFileSync(podmanCompose, ["-p", project, "down", "-v", "-t", "5"], {
      cwd: root,
      env,
      stdio: "ignore",
      timeout: 120_000,
    });
  } finally {
    // Whatever down missed (e.g. a container created while it ran) goes by the project's label.
    for (const id of listed("ps", "-a", project)) podmanQuiet("rm", "-f", "-v", id);
    for (const name of listed("network", "ls", project)) podmanQuiet("network", "rm", "-f", name);
    for (const name of listed("volume", "ls", project)) podmanQuiet("volume", "rm", "-f", name);
  }
}

function leftovers(project: string): string[] {
  return [
    ...listed("ps", "-a", project).map((id) => `container ${id}`),
    ...listed("network", "ls", project).map((name) => `network ${name}`),
    ...listed("volume", "ls", project).map((name) => `volume ${name}`),
  ];
}

/** Containers, networks or volumes labelled with the compose project (or, for projects, all). */
function listed(noun: "ps" | "network" | "volume", verb: string, project: string): string[] {
  const args = noun === "ps" ? ["ps", "-a", "--format", "{{.ID}}"] : [noun, verb, "--format", "{{.Name}}"];
  const output = podmanQuiet(...args, "--filter", `label=io.podman.compose.project=${project}`);
  return output.split("\n").filter((line) => line !== "");
}

function podmanQuiet(...args: string[]): string {
  try {
    return execFileSync("podman", args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 60_000,
    });
  } catch {
    return "";
  }
}

/** Projects of earlier runs whose test process is gone (killed before its hooks ran). */
function removeAbandonedProjects(): void {
  const containerProjects = podmanQuiet(
    "ps",
    "-a",
    "--format",
    '{{index .Labels "io.podman.compose.project"}}',
  );
  // A network outlives its containers when down was cut short; compose names it <project>_default.
  const networks = podmanQuiet("network", "ls", "--format", "{{.Name}}").replace(/_default$/gm, "");
  const projects = `${containerProjects}\n${networks}`
    .split("\n")
    .filter((name) => name.startsWith(PROJECT_PREFIX));
  for (const project of new Set(projects)) {
    const pid = Number(project.slice(PROJECT_PREFIX.length));
    if (Number.isInteger(pid) && !alive(pid)) composeDown(project, process.env);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
