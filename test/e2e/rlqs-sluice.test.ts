import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningEnvoy, startEnvoyOnConfig } from "../support/envoy.ts";
import { startUpstream } from "../support/loopback-upstream.ts";
import { scrape, seriesValue } from "../support/metrics-text.ts";
import { DENY_BODY, renderRlqsEnvoyConfig, TENANT_HEADER } from "../support/rlqs-envoy-config.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { send } from "./http-client.ts";

// Sluice as the Rate Limit Quota Service of two real Envoy 1.40s (docs/rlqs.md): one tenant's limit
// shared by both, assignments that follow a policy reload, and what the filter does once Sluice is
// gone. Envoy's bucket id is {name: tenant, tenant: <x-tenant>}; the policy names only `tenant`, so
// `name` is left out (bucket-entries.ts). The tests run in order; the last one stops Sluice.

const LIMIT = 20;
/**
 * Admitted beyond the limit, at most: per 5 s report tick the Envoys together refill the limit's
 * rate for one tick before a report shows the window exhausted (⌈5 s × 20 / 60 s⌉ = 2), and each
 * Envoy may pass one request before its first assignment arrives (2).
 */
const TOLERANCE = Math.ceil((5 * LIMIT) / 60) + 2;
const TRAFFIC_MS = 12_000;

const policy = (reloadedLimit: number) => `
domain: sluice
descriptors:
  - key: tenant
    value: shared
    rate_limit: { unit: minute, requests_per_unit: ${LIMIT} }
  - key: tenant
    value: reloaded
    rate_limit: { unit: minute, requests_per_unit: ${reloadedLimit} }
  - key: tenant
    value: blocked
    rate_limit: { unit: minute, requests_per_unit: 0 }
`;

describe("Sluice as the Rate Limit Quota Service of two Envoys", () => {
  let dir: string;
  let sluice: SluiceProcess;
  let upstream: Server;
  let envoys: RunningEnvoy[] = [];
  const get = (envoy: RunningEnvoy, tenant: string) =>
    send(`${envoy.url}/`, { headers: { [TENANT_HEADER]: tenant } });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-rlqs-"));
    await writeFile(join(dir, "sluice.yaml"), policy(0));
    sluice = await startSluice(["--policy", dir]);
    const started = await startUpstream("upstream");
    upstream = started.server;
    const at = (port: number) => ({ host: "127.0.0.1", port });
    const config = renderRlqsEnvoyConfig({
      listener: at(0),
      admin: at(0),
      rlqs: at(Number(sluice.grpcAddress.split(":")[1])),
      upstream: at(started.port),
    });
    envoys = await Promise.all([startEnvoyOnConfig(config), startEnvoyOnConfig(config)]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all(envoys.map((envoy) => envoy.stop()));
    await sluice?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it(`holds a tenant to ${LIMIT} a minute across both Envoys, within ${TOLERANCE}`, async () => {
    // The traffic stays in one minute slot, so the window admits exactly the limit (no slot decay).
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 60_000 - TRAFFIC_MS - 3_000) await sleep(60_000 - intoMinute + 200);
    const until = Date.now() + TRAFFIC_MS;
    const drive = async (envoy: RunningEnvoy) => {
      const statuses: number[] = [];
      while (Date.now() < until) {
        const reply = await get(envoy, "shared");
        if (reply.status === 429) expect(reply.body).toBe(DENY_BODY);
        statuses.push(reply.status);
        await sleep(100);
      }
      return statuses;
    };
    const [first, second] = await Promise.all(envoys.map(drive));
    const admitted = [first, second].map((s) => (s ?? []).filter((status) => status === 200).length);
    const total = admitted[0]! + admitted[1]!;
    console.log(
      `RLQS across two Envoys: admitted ${admitted.join(" + ")} = ${total} of ${LIMIT}, sent ${(first?.length ?? 0) + (second?.length ?? 0)}`,
    );
    expect(total).toBeLessThanOrEqual(LIMIT + TOLERANCE);
    expect(total).toBeGreaterThanOrEqual(LIMIT - 2);
    // Both Envoys got a share: the limit is divided, not won by whichever asked first.
    expect(Math.min(...admitted)).toBeGreaterThanOrEqual(5);
  }, 35_000);

  it("pushes new assignments after a policy reload", async () => {
    const [envoy] = envoys as [RunningEnvoy];
    // A new bucket's first request passes (no assignment yet: ALLOW_ALL); its limit of 0 then denies.
    await get(envoy, "reloaded");
    await expect.poll(async () => (await get(envoy, "reloaded")).status, { timeout: 3_000 }).toBe(429);
    await writeFile(join(dir, "sluice.yaml"), policy(1_000));
    // The policy watcher's debounce plus one push: well within a report tick.
    const started = Date.now();
    await expect
      .poll(async () => (await get(envoy, "reloaded")).status, { timeout: 4_000, interval: 100 })
      .toBe(200);
    console.log(`RLQS assignment followed the reload after ${Date.now() - started} ms`);
  }, 10_000);

  it("exports its streams, buckets, reports and assignments", async () => {
    const text = await scrape(sluice.adminUrl);
    expect(seriesValue(text, "sluice_rlqs_streams")).toBe(2);
    // shared on both streams (one bucket), reloaded on one.
    expect(seriesValue(text, "sluice_rlqs_buckets")).toBe(2);
    expect(seriesValue(text, "sluice_rlqs_reports_total")).toBeGreaterThanOrEqual(4);
    expect(seriesValue(text, 'sluice_rlqs_actions_total{kind="token_bucket"}')).toBeGreaterThan(0);
    expect(seriesValue(text, 'sluice_rlqs_actions_total{kind="deny_all"}')).toBeGreaterThan(0);
  });

  it("once Sluice is gone, Envoy keeps the last assignment until its TTL, then its no-assignment behaviour", async () => {
    const [envoy] = envoys as [RunningEnvoy];
    await get(envoy, "blocked");
    await expect.poll(async () => (await get(envoy, "blocked")).status, { timeout: 3_000 }).toBe(429);
    const stoppedAt = Date.now();
    await sluice.stop();
    // The DENY_ALL (TTL 11 s, from the last push) still holds; a new bucket gets the filter's
    // no_assignment_behavior: ALLOW_ALL by default, DENY_ALL for `denyfirst-` tenants.
    expect((await get(envoy, "blocked")).status).toBe(429);
    expect((await get(envoy, "new-while-down")).status).toBe(200);
    expect((await get(envoy, "denyfirst-while-down")).status).toBe(429);
    await expect
      .poll(async () => (await get(envoy, "blocked")).status, { timeout: 14_000, interval: 250 })
      .toBe(200);
    console.log(`RLQS DENY_ALL outlived Sluice by ${Date.now() - stoppedAt} ms`);
  }, 20_000);
});
