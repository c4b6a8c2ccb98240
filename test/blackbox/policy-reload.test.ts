import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrape, seriesValue } from "../support/metrics-text.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { logLines, type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { useSluice } from "../support/use-sluice.ts";

/**
 * Live policy reload under a running `sluice serve`: file edits, editor-style replacements, broken
 * files, SIGHUP and a Kubernetes ConfigMap volume's symlink swap.
 */

/** `user` is the rule the tests change; `steady` never changes, to see its counters survive. */
const policy = (userLimit: number) => `domain: reload
descriptors:
  - key: user
    rate_limit:
      name: user_per_minute
      unit: minute
      requests_per_unit: ${userLimit}
  - key: steady
    rate_limit:
      name: steady_per_minute
      unit: minute
      requests_per_unit: 3
`;

const BROKEN = `domain: reload
descriptors:
  - key: user
    rate_limit:
      unit: fortnight
      requests_per_unit: 1
`;

// Bounds for polling, not speed claims: a reload normally lands ~150 ms (the debounce) after a write.
const POLL = { timeout: 10_000, interval: 100 };

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${Date.now()}-${seq++}`;

/** How many requests one fresh `key=value` counter admits before the first OVER_LIMIT (at most 12). */
async function admitted(client: RlsClient, key: string, value = fresh(key)): Promise<number> {
  for (let n = 0; n < 12; n++) {
    const reply = await client.shouldRateLimit({
      domain: "reload",
      descriptors: [{ entries: [{ key, value }] }],
    });
    if (reply.overall_code === "OVER_LIMIT") return n;
  }
  return 12;
}

async function metric(sluice: SluiceProcess, series: string): Promise<number> {
  return seriesValue(await scrape(sluice.adminUrl), series) ?? Number.NaN;
}

/** Waits until the policy generation passes `before`, i.e. a reload has swapped the table. */
async function reloadedPast(sluice: SluiceProcess, before: number): Promise<void> {
  await expect.poll(() => metric(sluice, "sluice_policy_generation"), POLL).toBeGreaterThan(before);
}

/** Waits until the failed reloads pass `before`, i.e. a reload was refused. */
async function reloadFailedPast(sluice: SluiceProcess, before: number): Promise<void> {
  await expect
    .poll(() => metric(sluice, 'sluice_policy_reloads_total{result="failure"}'), POLL)
    .toBeGreaterThan(before);
}

describe("live policy reload of a --policy file", () => {
  let dir: string;
  let file: string;
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-reload-"));
    file = join(dir, "reload.yaml");
    await writeFile(file, policy(2));
    sluice = await startSluice(["--policy", file]);
    client = createRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("applies new limits after the file is rewritten in place", async () => {
    expect(await admitted(client, "user")).toBe(2);
    await writeFile(file, policy(5));
    await expect.poll(() => admitted(client, "user"), POLL).toBe(5);
    expect(await metric(sluice, 'sluice_policy_reloads_total{result="success"}')).toBeGreaterThanOrEqual(1);
    expect(logLines(sluice)).toContainEqual(
      expect.objectContaining({ msg: "policy reloaded", trigger: "file change", domains: ["reload"] }),
    );
  });

  it("sees an editor-style replacement (write a temp file, rename it over) and keeps unchanged rules' counters", async () => {
    const steady = fresh("steady");
    const send = (value: string) =>
      client.shouldRateLimit({ domain: "reload", descriptors: [{ entries: [{ key: "steady", value }] }] });
    expect((await send(steady)).overall_code).toBe("OK");
    expect((await send(steady)).overall_code).toBe("OK");

    const before = await metric(sluice, "sluice_policy_generation");
    await writeFile(join(dir, ".reload.yaml.tmp"), policy(4));
    await rename(join(dir, ".reload.yaml.tmp"), file);
    await reloadedPast(sluice, before);
    expect(await admitted(client, "user")).toBe(4);

    // steady_per_minute (3) did not change: its counter still holds the 2 hits from before the reload.
    expect((await send(steady)).overall_code).toBe("OK");
    expect((await send(steady)).overall_code).toBe("OVER_LIMIT");
  });

  it("keeps the last good policy when the new file is broken, counts the failure and logs file and key", async () => {
    const failuresBefore = await metric(sluice, 'sluice_policy_reloads_total{result="failure"}');
    const generation = await metric(sluice, "sluice_policy_generation");
    await writeFile(file, BROKEN);
    await reloadFailedPast(sluice, failuresBefore);

    expect(await admitted(client, "user")).toBe(4);
    expect(await metric(sluice, "sluice_policy_generation")).toBe(generation);
    expect(await metric(sluice, "sluice_policy_last_reload_successful")).toBe(0);
    expect((await fetch(`${sluice.adminUrl}/readyz`)).status).toBe(200);
    const failure = logLines(sluice).find(
      (line) => line.msg === "policy reload failed; keeping the last good policy",
    );
    expect(failure).toMatchObject({
      level: 50,
      trigger: "file change",
      errors: [
        { file, path: "descriptors[0].rate_limit.unit", message: expect.stringContaining("fortnight") },
      ],
    });
  });

  it("reloads on SIGHUP", async () => {
    const before = await metric(sluice, "sluice_policy_generation");
    await writeFile(file, policy(3));
    await reloadedPast(sluice, before);
    const afterWatch = await metric(sluice, "sluice_policy_generation");

    process.kill(sluice.pid, "SIGHUP");
    await reloadedPast(sluice, afterWatch);
    expect(logLines(sluice)).toContainEqual(
      expect.objectContaining({ msg: "policy reloaded", trigger: "SIGHUP" }),
    );
    expect(await metric(sluice, "sluice_policy_last_reload_successful")).toBe(1);
    expect(await admitted(client, "user")).toBe(3);
    expect((await fetch(`${sluice.adminUrl}/readyz`)).status).toBe(200);
  });
});

describe("live policy reload of a ConfigMap-style --policy directory", () => {
  let dir: string;
  let sluice: SluiceProcess;
  let client: RlsClient;

  /** Lays out a new `..<timestamp>` directory holding the policy, as the kubelet does. */
  async function version(name: string, userLimit: number): Promise<void> {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, "reload.yaml"), policy(userLimit));
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-configmap-"));
    await version("..2025_01_01_00_00_00.1", 2);
    await symlink("..2025_01_01_00_00_00.1", join(dir, "..data"));
    await symlink(join("..data", "reload.yaml"), join(dir, "reload.yaml"));
    sluice = await startSluice(["--policy", dir]);
    client = createRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("sees the atomic ..data symlink swap and applies the new content", async () => {
    expect(await admitted(client, "user")).toBe(2);
    // The kubelet's update: new timestamped directory, a temporary link to it, renamed over ..data,
    // then the old directory removed. The visible reload.yaml link never changes.
    await version("..2025_01_01_00_05_00.2", 6);
    await symlink("..2025_01_01_00_05_00.2", join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    await rm(join(dir, "..2025_01_01_00_00_00.1"), { recursive: true });

    await expect.poll(() => admitted(client, "user"), POLL).toBe(6);
    expect(await metric(sluice, 'sluice_policy_reloads_total{result="failure"}')).toBe(0);
  });
});

describe("live policy reload of a --policy directory losing its files", () => {
  const dir = join(tmpdir(), fresh("sluice-vanishing"));
  const other =
    "domain: other\ndescriptors:\n  - key: user\n    rate_limit: { unit: minute, requests_per_unit: 1 }\n";
  beforeAll(async () => {
    await mkdir(dir);
    await writeFile(join(dir, "reload.yaml"), policy(2));
    await writeFile(join(dir, "other.yaml"), other);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  // After the directory exists (hooks run in order) and stopped before it is removed (in reverse).
  const suite = useSluice(["--policy", dir]);

  it("reloads when one domain of several is removed on purpose", async () => {
    const { sluice } = suite;
    const before = await metric(sluice, "sluice_policy_generation");
    await rm(join(dir, "other.yaml"));
    await reloadedPast(sluice, before);
    expect(logLines(sluice)).toContainEqual(
      expect.objectContaining({ msg: "policy reloaded", trigger: "file change", domains: ["reload"] }),
    );
    expect(await metric(sluice, "sluice_policy_last_reload_successful")).toBe(1);
  });

  it("refuses the reload that would leave no domain: keeps the last good table, counts and logs it", async () => {
    const { sluice, client } = suite;
    const failuresBefore = await metric(sluice, 'sluice_policy_reloads_total{result="failure"}');
    const generation = await metric(sluice, "sluice_policy_generation");
    await rm(join(dir, "reload.yaml"));
    await reloadFailedPast(sluice, failuresBefore);

    expect(await admitted(client, "user")).toBe(2);
    expect(await metric(sluice, "sluice_policy_generation")).toBe(generation);
    expect(await metric(sluice, "sluice_policy_last_reload_successful")).toBe(0);
    const failure = logLines(sluice).find(
      (line) => line.msg === "policy reload failed; keeping the last good policy",
    );
    expect(failure).toMatchObject({
      level: 50,
      trigger: "file change",
      errors: [{ file: dir, message: expect.stringContaining("no domain") }],
    });
  });

  it("refuses it on SIGHUP too, and takes the next policy that has a domain", async () => {
    const { sluice, client } = suite;
    const failuresBefore = await metric(sluice, 'sluice_policy_reloads_total{result="failure"}');
    process.kill(sluice.pid, "SIGHUP");
    await reloadFailedPast(sluice, failuresBefore);
    expect(await admitted(client, "user")).toBe(2);

    const before = await metric(sluice, "sluice_policy_generation");
    await writeFile(join(dir, "reload.yaml"), policy(3));
    await reloadedPast(sluice, before);
    expect(await admitted(client, "user")).toBe(3);
    expect(await metric(sluice, "sluice_policy_last_reload_successful")).toBe(1);
  });
});
