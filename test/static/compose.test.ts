import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderTemplate, startEnvoy, validateEnvoyConfig } from "../support/envoy.ts";
import { type DockerStage, parseDockerfile } from "./dockerfile.ts";

// No Docker engine runs here, so docker-compose.yml and the Dockerfile are checked as files: their
// structure, their agreement with each other and with envoy/envoy.yaml, and (with the real Envoy and
// promtool) the configs they would start with.
const root = resolve(import.meta.dirname, "../..");

interface Service {
  image?: string;
  build?: { context: string; target: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number };
}
interface Compose {
  services: Record<string, Service>;
}

const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8")) as Compose;
const stages = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
const services = compose.services;
/** Envoy starts without its clusters answering; a healthcheck must not need them. */
const unreachable = { host: "127.0.0.1", port: 9 };

function service(name: string): Service {
  const found = services[name];
  if (found === undefined) throw new Error(`no service ${name}`);
  return found;
}
function stage(name: string): DockerStage {
  const found = stages.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no Dockerfile stage ${name}`);
  return found;
}
/** The value after a flag in a command, e.g. `--grpc-addr` → `0.0.0.0:8081`. */
function flagValue(command: readonly string[] | undefined, flag: string): string | undefined {
  const at = command?.indexOf(flag) ?? -1;
  return at < 0 ? undefined : command?.[at + 1];
}
function portOf(address: string | undefined): string | undefined {
  return address?.split(":").at(-1);
}

describe("docker-compose.yml", () => {
  it("runs redis, sluice, upstream, envoy and prometheus", () => {
    expect(Object.keys(services).sort()).toEqual(["envoy", "prometheus", "redis", "sluice", "upstream"]);
  });

  it("pins every pulled image to a version, Envoy to the 1.40.0 the tests run", () => {
    expect(service("envoy").image).toBe("envoyproxy/envoy:v1.40.0");
    for (const name of ["redis", "prometheus"]) expect(service(name).image).toMatch(/:v?\d+\.\d+[\w.-]*$/);
  });

  it("builds sluice and upstream from stages of this Dockerfile", () => {
    expect(service("sluice").build).toEqual({ context: ".", target: "sluice" });
    expect(service("upstream").build).toEqual({ context: ".", target: "upstream" });
  });

  it("mounts the tested envoy/envoy.yaml and renders it with the script the tests use", () => {
    const envoy = service("envoy");
    expect(envoy.volumes).toEqual([
      "./envoy/envoy.yaml:/etc/envoy/envoy.yaml:ro",
      "./envoy/render-config.sh:/etc/envoy/render-config.sh:ro",
    ]);
    for (const volume of envoy.volumes ?? [])
      expect(existsSync(join(root, volume.split(":")[0] ?? ""))).toBe(true);
    expect(envoy.command?.at(-1)).toBe(
      "sh /etc/envoy/render-config.sh /etc/envoy/envoy.yaml > /tmp/envoy.yaml && exec envoy -c /tmp/envoy.yaml",
    );
  });

  it("points Envoy at the sluice and upstream services on the ports they listen on", () => {
    const environment = service("envoy").environment ?? {};
    expect(environment.SLUICE_HOST).toBe("sluice");
    expect(environment.SLUICE_PORT).toBe(portOf(flagValue(service("sluice").command, "--grpc-addr")));
    expect(environment.UPSTREAM_HOST).toBe("upstream");
    expect(environment.UPSTREAM_PORT).toBe(flagValue(stage("upstream").cmd, "--port"));
    expect(environment.FAILURE_MODE_DENY).toBe("false");
  });

  it("gives Envoy a config the real Envoy accepts when rendered with the compose environment", async () => {
    const config = renderTemplate(service("envoy").environment ?? {});
    const result = await validateEnvoyConfig(config);
    expect(result.output).toContain("OK");
    expect(result.ok).toBe(true);
  });

  it("serves Sluice on the sample policy with Redis", () => {
    const command = service("sluice").command;
    expect(command?.[0]).toBe("serve");
    expect(flagValue(command, "--policy")).toBe("deploy/policies");
    expect(flagValue(command, "--redis-url")).toBe("redis://redis:6379");
  });

  it("publishes only on 127.0.0.1, Envoy's listener and admin and Sluice's admin among them", () => {
    const published = Object.values(services).flatMap((s) => s.ports ?? []);
    // The host port is a variable whose default is the container's port, so a test (or a user with
    // those ports taken) can move it: 127.0.0.1:${ENVOY_HOST_PORT:-10000}:10000.
    for (const port of published) {
      const [, , fallback, inside] = /^127\.0\.0\.1:\$\{([A-Z_]+_HOST_PORT):-(\d+)\}:(\d+)$/.exec(port) ?? [];
      expect(fallback, port).toBeDefined();
      expect(fallback, port).toBe(inside);
    }
    const variables = published.map((p) => /\$\{(\w+):/.exec(p)?.[1]);
    expect(new Set(variables).size).toBe(published.length);
    const envoy = service("envoy");
    const envoyPorts = (envoy.ports ?? []).map((p) => p.split(":").at(-1));
    expect(envoyPorts).toEqual([envoy.environment?.LISTENER_PORT, envoy.environment?.ADMIN_PORT]);
    const sluiceAdmin = portOf(flagValue(service("sluice").command, "--admin-addr"));
    expect((service("sluice").ports ?? []).map((p) => p.split(":").at(-1))).toEqual([sluiceAdmin]);
  });

  it("health-checks every long-running service and waits on health before starting its dependants", () => {
    for (const name of ["redis", "sluice", "upstream", "envoy"]) {
      const check = service(name).healthcheck;
      expect(check?.test[0], name).toBe("CMD");
      expect(check?.retries, name).toBeGreaterThan(0);
    }
    for (const [name, spec] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(spec.depends_on ?? {})) {
        expect(condition, `${name} → ${dependency}`).toBe("service_healthy");
        expect(service(dependency).healthcheck, `${dependency} has a healthcheck`).toBeDefined();
      }
    }
    expect(Object.keys(service("envoy").depends_on ?? {}).sort()).toEqual(["sluice", "upstream"]);
  });

  it("checks health where each service answers: Sluice /readyz, upstream /api/health, Envoy /ready", () => {
    const sluiceAdmin = portOf(flagValue(service("sluice").command, "--admin-addr"));
    // bin/healthcheck.js asks /readyz on SLUICE_ADMIN_ADDR's port, else PORT, else 9102 (tested in
    // test/blackbox/reference-entrypoint.test.ts); compose sets neither, so its admin port must be 9102.
    expect(service("sluice").healthcheck?.test).toEqual(["CMD", "node", "bin/healthcheck.js"]);
    expect(sluiceAdmin).toBe("9102");
    expect(service("upstream").healthcheck?.test.join(" ")).toContain("/api/health");
    const envoyAdmin = service("envoy").environment?.ADMIN_PORT;
    expect(service("envoy").healthcheck?.test.join(" ")).toContain(`/dev/tcp/127.0.0.1/${envoyAdmin} `);
  });

  it("has an Envoy healthcheck that passes against a real Envoy 1.40 admin", async () => {
    const [, shell, flag, script = ""] = service("envoy").healthcheck?.test ?? [];
    const envoy = await startEnvoy({ sluice: unreachable, upstream: unreachable });
    try {
      const adminPort = new URL(envoy.adminUrl).port;
      const local = script.replace("/dev/tcp/127.0.0.1/9901", `/dev/tcp/127.0.0.1/${adminPort}`);
      expect(local).not.toBe(script);
      execFileSync(shell ?? "bash", [flag ?? "-c", local], { timeout: 5_000 });
    } finally {
      await envoy.stop();
    }
  });

  it("has Prometheus scrape Sluice's /metrics and Envoy's stats with a config promtool accepts", async () => {
    const prometheus = service("prometheus");
    expect(prometheus.volumes).toEqual(["./deploy/prometheus:/etc/prometheus:ro"]);
    const content = await readFile("deploy/prometheus/prometheus.yml", "utf8");
    const scrape = parse(content) as {
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const jobs = Object.fromEntries(
      scrape.scrape_configs.map((job) => [
        job.job_name,
        { path: job.metrics_path ?? "/metrics", targets: job.static_configs.flatMap((s) => s.targets) },
      ]),
    );
    const sluiceAdmin = portOf(flagValue(service("sluice").command, "--admin-addr"));
    expect(jobs.sluice).toEqual({ path: "/metrics", targets: [`sluice:${sluiceAdmin}`] });
    const envoyAdmin = service("envoy").environment?.ADMIN_PORT;
    expect(jobs.envoy).toEqual({ path: "/stats/prometheus", targets: [`envoy:${envoyAdmin}`] });

    // promtool also loads the rule_files it names (alerts.yml), as the container would.
    expect(
      execFileSync("promtool", ["check", "config", "deploy/prometheus/prometheus.yml"], { encoding: "utf8" }),
    ).toMatch(/SUCCESS/);
  });
});

describe("scripts/container-images.sh", () => {
  it("builds a local stand-in under the name of every image the Dockerfile and compose file pull", () => {
    const script = readFileSync(join(root, "scripts/container-images.sh"), "utf8");
    const standIns = [...script.matchAll(/^[A-Z]+_IMAGE="([^"]+)"$/gm)].map((m) => m[1]);
    const pulled = [
      ...new Set([
        ...stages.map((s) => s.from),
        ...Object.values(services).flatMap((s) => (s.build ? [] : [s.image])),
      ]),
    ];
    // Podman stores a Docker Hub short name fully qualified.
    const qualified = pulled.map((name = "") =>
      name.includes("/") ? `docker.io/${name}` : `docker.io/library/${name}`,
    );
    expect(standIns).toEqual(expect.arrayContaining(qualified));
  });
});

describe("Dockerfile", () => {
  it("has a dependency stage and two runtime stages, all on Node 24 LTS slim, the service last", () => {
    expect(stages.map((s) => s.name)).toEqual(["deps", "upstream", "sluice"]);
    for (const s of stages) expect(s.from).toBe("node:24-bookworm-slim");
  });

  it("installs production dependencies only, from the lockfile", () => {
    const install = stage("deps")
      .instructions.filter((i) => i.keyword === "RUN")
      .map((i) => i.args);
    expect(install.join(" ")).toMatch(/npm ci --omit=dev/);
    expect(stage("deps").instructions.find((i) => i.keyword === "COPY")?.args).toBe(
      "package.json package-lock.json ./",
    );
  });

  it("runs both runtime stages as a non-root user", () => {
    for (const name of ["upstream", "sluice"]) {
      const user = stage(name)
        .instructions.filter((i) => i.keyword === "USER")
        .at(-1)?.args;
      expect(user, name).toBeDefined();
      expect(user, name).not.toMatch(/^(root|0)(:|$)/);
    }
  });

  it("copies the sources Node runs directly, with no build step and no tests", () => {
    const copies = stage("sluice")
      .instructions.filter((i) => i.keyword === "COPY")
      .map((i) => i.args);
    expect(copies).toEqual([
      "--from=deps /app/node_modules ./node_modules",
      "package.json ./",
      "bin ./bin",
      "src ./src",
      "proto ./proto",
      "deploy/policies ./deploy/policies",
    ]);
    for (const copy of copies.slice(1)) {
      const source = copy.split(" ")[0] ?? "";
      expect(existsSync(join(root, source)), source).toBe(true);
    }
    expect(stage("sluice").entrypoint).toEqual(["node", "bin/sluice.js"]);
    expect(stage("sluice").cmd?.[0]).toBe("serve");
  });

  it("labels the service image (OCI) and health-checks both runtime stages as compose does", () => {
    const labels = stage("sluice")
      .instructions.filter((i) => i.keyword === "LABEL")
      .map((i) => i.args)
      .join(" ");
    for (const key of ["title", "description", "licenses", "version"])
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    for (const name of ["upstream", "sluice"]) {
      const check = stage(name).instructions.find((i) => i.keyword === "HEALTHCHECK")?.args ?? "";
      const command = JSON.parse(check.slice(check.indexOf("CMD ") + 4)) as string[];
      expect(command, name).toEqual(service(name).healthcheck?.test.slice(1));
    }
  });

  it("keeps dependencies, git and tool folders out of the build context", () => {
    const ignored = readFileSync(join(root, ".dockerignore"), "utf8").split("\n");
    for (const path of ["node_modules", ".git", ".tools", "test"]) expect(ignored).toContain(path);
  });
});
