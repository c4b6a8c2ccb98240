import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseSettings } from "../../src/settings/settings.ts";

/**
 * deploy/k8s/ checked offline against the official Kubernetes OpenAPI schemas that the
 * kubernetes-models package ships (its validate() runs them; nothing is downloaded), then checked
 * for the things a schema cannot see: probes on the admin port, the policy ConfigMap mounted as a
 * directory, selectors that match, settings Sluice accepts.
 */

const DIR = "deploy/k8s";

/** The schema-backed model for each apiVersion/kind the manifests may use. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  /** Free-form YAML, checked by the schema; the tests below read into it freely. */
  spec?: any;
  data?: Record<string, string>;
}

function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (Model === undefined) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { resourceFieldRef?: unknown; secretKeyRef?: unknown };
}

/** A Kubernetes CPU quantity in cores: "2", "500m". */
function cpu(quantity: string | number): number {
  const text = String(quantity);
  return text.endsWith("m") ? Number(text.slice(0, -1)) / 1000 : Number(text);
}

/** A Kubernetes memory quantity in MiB; the manifests use Mi and Gi only. */
function mebibytes(quantity: string): number {
  const [, amount = "", unit] = /^(\d+)(Mi|Gi)$/.exec(quantity) ?? [];
  if (unit === undefined) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(amount) * (unit === "Gi" ? 1024 : 1);
}

describe("deploy/k8s manifests", () => {
  let manifests: (Manifest & { file: string })[];
  const one = (kind: string) => {
    const found = manifests.filter((m) => m.kind === kind);
    expect(found).toHaveLength(1);
    return found[0] as Manifest;
  };

  beforeAll(async () => {
    const files = (await readdir(DIR)).filter((name) => name.endsWith(".yaml")).sort();
    manifests = [];
    for (const file of files) {
      for (const document of parseAllDocuments(await readFile(join(DIR, file), "utf8"))) {
        expect(document.errors, file).toEqual([]);
        manifests.push({ ...(document.toJS() as Manifest), file });
      }
    }
  });

  it("ship a Deployment, Service, ConfigMap, PodDisruptionBudget and autoscaling/v2 HorizontalPodAutoscaler", () => {
    expect(manifests.map((m) => `${m.apiVersion} ${m.kind}`).sort()).toEqual([
      "apps/v1 Deployment",
      "autoscaling/v2 HorizontalPodAutoscaler",
      "policy/v1 PodDisruptionBudget",
      "v1 ConfigMap",
      "v1 Service",
    ]);
  });

  it("are valid against the Kubernetes schemas", () => {
    for (const manifest of manifests) {
      expect(() => validate(manifest), `${manifest.file}: ${manifest.kind}`).not.toThrow();
    }
  });

  it("the schema check catches a broken manifest (it can fail)", () => {
    const deployment = structuredClone(one("Deployment"));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = "grpc";
    expect(() => validate(deployment)).toThrow(/containerPort/);
    const hpa = structuredClone(one("HorizontalPodAutoscaler"));
    delete hpa.spec.scaleTargetRef;
    expect(() => validate(hpa)).toThrow(/scaleTargetRef/);
  });

  it("configure Sluice through settings it accepts, on the ports the probes and Service use", () => {
    const pod = one("Deployment").spec.template.spec;
    const container = pod.containers[0];
    const env = Object.fromEntries(
      container.env.map((e: EnvVar) => [
        e.name,
        e.value ?? (e.valueFrom?.resourceFieldRef ? "2" : "redis://from-secret:6379"),
      ]),
    );
    const parsed = parseSettings(container.args.slice(1), env);
    expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
    if (!parsed.ok) return;
    const ports = Object.fromEntries(
      container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
    );
    expect(container.args[0]).toBe("serve");
    expect(ports).toEqual({ grpc: parsed.settings.grpcAddr.port, admin: parsed.settings.adminAddr.port });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "admin" });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "admin" });
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(parsed.settings.shutdownGraceMs);
    expect(container.env.find((e: { name: string }) => e.name === "SLUICE_REDIS_URL").valueFrom).toEqual({
      secretKeyRef: { name: "sluice-redis", key: "url" },
    });
  });

  it("give every Node process its memory: workers follow the CPU limit, 128Mi each with the primary", () => {
    const container = one("Deployment").spec.template.spec.containers[0];
    const workers = container.env.find((e: EnvVar) => e.name === "SLUICE_WORKERS");
    // Kubernetes rounds limits.cpu / divisor up to a whole number.
    expect(workers?.valueFrom?.resourceFieldRef).toEqual({
      containerName: "sluice",
      resource: "limits.cpu",
      divisor: "1",
    });
    const { limits, requests } = container.resources;
    const count = Math.ceil(cpu(limits.cpu));
    expect(count).toBeGreaterThanOrEqual(1);
    // Measured (docs/containers.md): 2 workers peaked at 232 MB under load; 3 in 256Mi were OOM-killed.
    expect(mebibytes(limits.memory)).toBeGreaterThanOrEqual(128 * (count + 1));
    expect(mebibytes(requests.memory)).toBeLessThanOrEqual(mebibytes(limits.memory));
    expect(cpu(requests.cpu)).toBeLessThanOrEqual(cpu(limits.cpu));
  });

  it("mount the policy ConfigMap as a directory at SLUICE_POLICY, so reloads see the kubelet's swaps", async () => {
    const pod = one("Deployment").spec.template.spec;
    const container = pod.containers[0];
    const policyPath = container.env.find((e: { name: string }) => e.name === "SLUICE_POLICY").value;
    const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === policyPath);
    expect(mount).toBeDefined();
    // A subPath mount is a copy the kubelet never updates: a policy edit would never arrive.
    expect(mount.subPath).toBeUndefined();
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.configMap.name).toBe(one("ConfigMap").metadata.name);
    expect(one("ConfigMap").data?.["api.yaml"]).toBe(await readFile("deploy/policies/api.yaml", "utf8"));
  });

  it("select the Deployment's pods from the Service, PodDisruptionBudget and HorizontalPodAutoscaler", () => {
    const deployment = one("Deployment");
    const labels = deployment.spec.template.metadata.labels;
    expect(labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(labels).toMatchObject(one("Service").spec.selector);
    expect(labels).toMatchObject(one("PodDisruptionBudget").spec.selector.matchLabels);
    expect(one("Service").spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual([
      "grpc",
      "admin",
    ]);
    const hpa = one("HorizontalPodAutoscaler").spec;
    expect(hpa.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: deployment.metadata.name,
    });
    // Room for a drain: the budget never blocks every eviction at the minimum replica count.
    expect(hpa.minReplicas).toBeGreaterThan(one("PodDisruptionBudget").spec.minAvailable);
    // Nor while every pod is unready (Redis down, docs/operations-health.md): an unready pod
    // answers nothing, so evicting it costs nothing.
    expect(one("PodDisruptionBudget").spec.unhealthyPodEvictionPolicy).toBe("AlwaysAllow");
    expect(deployment.spec.template.spec.containers[0].resources.requests.cpu).toBeDefined();
  });
});
