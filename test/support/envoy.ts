import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type RunningProcess, startProcess } from "./process.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
/** The one Envoy config the stack, docker-compose and the tests share. */
export const ENVOY_TEMPLATE = join(repoRoot, "envoy/envoy.yaml");
const RENDER_SCRIPT = join(repoRoot, "envoy/render-config.sh");

/** The Envoy that scripts/setup.sh installs, unless ENVOY_BIN names another. */
export function envoyBinary(): string {
  return process.env.ENVOY_BIN ?? join(repoRoot, ".tools/venv/bin/envoy");
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface EnvoyConfigValues {
  readonly listener: HostPort;
  readonly admin: HostPort;
  readonly sluice: HostPort;
  readonly upstream: HostPort;
  /** The deny variant: refuse requests when Sluice cannot answer (default: let them through). */
  readonly failureModeDeny?: boolean;
  /** Rate-limit RPC timeout as an Envoy duration, e.g. `2s` (default: the file's own). */
  readonly rlsTimeout?: string;
}

/** The placeholders of envoy/envoy.yaml, filled by envoy/render-config.sh exactly as in the container. */
export function envoyConfigEnvironment(values: EnvoyConfigValues): Record<string, string> {
  const environment: Record<string, string> = {
    LISTENER_HOST: values.listener.host,
    LISTENER_PORT: String(values.listener.port),
    ADMIN_HOST: values.admin.host,
    ADMIN_PORT: String(values.admin.port),
    SLUICE_HOST: values.sluice.host,
    SLUICE_PORT: String(values.sluice.port),
    UPSTREAM_HOST: values.upstream.host,
    UPSTREAM_PORT: String(values.upstream.port),
  };
  if (values.failureModeDeny !== undefined) environment.FAILURE_MODE_DENY = String(values.failureModeDeny);
  if (values.rlsTimeout !== undefined) environment.RLS_TIMEOUT = values.rlsTimeout;
  return environment;
}

/** Renders a template (envoy/envoy.yaml by default) from placeholder values given by name. */
export function renderTemplate(environment: Record<string, string>, template = ENVOY_TEMPLATE): string {
  return execFileSync("sh", [RENDER_SCRIPT, template], {
    encoding: "utf8",
    // Only the given values: a stray variable in the caller's environment must not fill a placeholder.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...environment },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function renderEnvoyConfig(values: EnvoyConfigValues): string {
  return renderTemplate(envoyConfigEnvironment(values));
}

export interface DemoCaller {
  readonly apiKey: string;
  readonly tenant: string;
  readonly plan: string;
}

/** The demo API keys from the Lua table in envoy/envoy.yaml, the one place they are defined. */
export function demoCallers(template = readFileSync(ENVOY_TEMPLATE, "utf8")): DemoCaller[] {
  const entry = /\["([^"]+)"\]\s*=\s*\{\s*tenant\s*=\s*"([^"]+)",\s*plan\s*=\s*"([^"]+)"\s*\}/g;
  return [...template.matchAll(entry)].map(([, apiKey = "", tenant = "", plan = ""]) => ({
    apiKey,
    tenant,
    plan,
  }));
}

/** Runs `envoy --mode validate` on a config text; resolves with Envoy's verdict and output. */
export async function validateEnvoyConfig(config: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), "sluice-envoy-validate-"));
  try {
    const file = join(dir, "envoy.yaml");
    await writeFile(file, config);
    try {
      const output = execFileSync(envoyBinary(), ["--mode", "validate", "-c", file, "--log-level", "error"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      return { ok: true, output };
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      return { ok: false, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface StartEnvoyOptions {
  readonly sluice: HostPort;
  readonly upstream: HostPort;
  readonly failureModeDeny?: boolean;
  readonly rlsTimeout?: string;
  /** Loopback address to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Listener port (default 0: Envoy picks one, read back from its admin API). */
  readonly listenerPort?: number;
  readonly adminPort?: number;
  readonly echo?: boolean;
  /** Changes the rendered config before Envoy reads it (e.g. TLS to Sluice). */
  readonly transformConfig?: (config: string) => string;
}

export interface RunningEnvoy {
  /** `http://HOST:PORT` of the public listener. */
  readonly url: string;
  readonly adminUrl: string;
  readonly process: RunningProcess;
  /** Envoy's counters whose names contain `filter` (all when omitted), from the admin `/stats`. */
  counters(filter?: string): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** Starts the real Envoy on the rendered envoy/envoy.yaml and waits until its listener is up. */
export async function startEnvoy(options: StartEnvoyOptions): Promise<RunningEnvoy> {
  const host = options.host ?? "127.0.0.1";
  const transform = options.transformConfig ?? ((config: string) => config);
  const config = transform(
    renderEnvoyConfig({
      listener: { host, port: options.listenerPort ?? 0 },
      admin: { host, port: options.adminPort ?? 0 },
      sluice: options.sluice,
      upstream: options.upstream,
      failureModeDeny: options.failureModeDeny,
      rlsTimeout: options.rlsTimeout,
    }),
  );
  return startEnvoyOnConfig(config, { host, echo: options.echo });
}

export interface EnvoyProcessOptions {
  /** The host the first listener's URL names (default 127.0.0.1). */
  readonly host?: string;
  /** Worker threads (default 1). */
  readonly concurrency?: number;
  readonly echo?: boolean;
}

/**
 * Starts the real Envoy on a config text of its own (admin on an address Envoy writes to a file, the
 * first listener's port read back from the admin API) and waits until its listener is up.
 */
export async function startEnvoyOnConfig(
  config: string,
  options: EnvoyProcessOptions = {},
): Promise<RunningEnvoy> {
  const dir = await mkdtemp(join(tmpdir(), "sluice-envoy-"));
  const configFile = join(dir, "envoy.yaml");
  const adminAddressFile = join(dir, "admin-address");
  await writeFile(configFile, config);

  let adminUrl = "";
  const envoy = await startProcess({
    name: "envoy",
    command: envoyBinary(),
    args: [
      ["-c", configFile],
      ["--admin-address-path", adminAddressFile],
      // Several Envoys may run at once (parallel suites): no shared-memory hot-restart region between them.
      ["--disable-hot-restart"],
      ["--concurrency", String(options.concurrency ?? 1)],
      ["--log-level", "warn"],
    ].flat(),
    echo: options.echo,
    ready: {
      probe: async () => {
        adminUrl = `http://${(await readFile(adminAddressFile, "utf8")).trim()}`;
        // /ready answers 200 once the clusters are initialised and the listener accepts connections.
        return (await fetch(`${adminUrl}/ready`)).ok;
      },
    },
  });

  try {
    const url = `http://${options.host ?? "127.0.0.1"}:${await listenerPort(adminUrl)}`;
    return {
      url,
      adminUrl,
      process: envoy,
      counters: (filter) => readCounters(adminUrl, filter),
      stop: async () => {
        await envoy.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await envoy.stop();
    throw error;
  }
}

async function listenerPort(adminUrl: string): Promise<number> {
  const response = await fetch(`${adminUrl}/listeners?format=json`);
  const body = (await response.json()) as {
    listener_statuses?: { local_address?: { socket_address?: { port_value?: number } } }[];
  };
  const port = body.listener_statuses?.[0]?.local_address?.socket_address?.port_value;
  if (port === undefined) throw new Error(`envoy reported no listener port: ${JSON.stringify(body)}`);
  return port;
}

async function readCounters(adminUrl: string, filter?: string): Promise<Record<string, number>> {
  const query = new URLSearchParams({ format: "json", type: "Counters" });
  if (filter !== undefined) query.set("filter", escapeRegExp(filter));
  const response = await fetch(`${adminUrl}/stats?${query}`);
  const body = (await response.json()) as { stats?: { name?: string; value?: number }[] };
  const counters: Record<string, number> = {};
  for (const stat of body.stats ?? []) {
    if (stat.name !== undefined && typeof stat.value === "number") counters[stat.name] = stat.value;
  }
  return counters;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
