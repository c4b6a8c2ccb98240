import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HostPort, type RunningEnvoy, startEnvoyOnConfig } from "../support/envoy.ts";
import { startUpstream } from "../support/loopback-upstream.ts";
import { startRedis, startRedisCluster } from "../support/redis-server.ts";
import { renderRlqsEnvoyConfig, TENANT_HEADER } from "../support/rlqs-envoy-config.ts";
import { renderRlsEnvoyConfig } from "../support/rls-envoy-config.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { send } from "./http-client.ts";

// One tenant's limit shared through one store by two Sluice instances, Envoys using RLQS and an
// Envoy using the per-request RLS filter (docs/rlqs.md): RLQS usage reports and RLS checks charge
// the same counters. Envoy Q1 asks Sluice A by RLQS, Envoy Q2 asks Sluice B by RLQS, Envoy R asks
// Sluice B per request. Two scenarios run at once on tenants of their own, in one minute slot:
//
// - mixed: Q1 alone for the first phase, then Q1 and R. R must see what Q1 reported.
// - rlqs: Q1 and Q2 (two instances) throughout, as test/e2e/rlqs-sluice.test.ts on the memory store.

const LIMIT = 20;
const EXPECTED_INSTANCES = 2;
/** Q1 alone: longer than one 5 s report tick, so R starts on a counter holding Q1's usage. */
const PHASE_MS = 7_000;
const TRAFFIC_MS = 2 * PHASE_MS;
/** Tokens one RLQS Envoy refills per 5 s tick at its share of the rate (20 a minute over 2: 1 per 6 s). */
const TICK_REFILL = Math.ceil((5 * LIMIT) / 60 / EXPECTED_INSTANCES);
/**
 * Mixed: R is exact against the counter, but the counter lags Q1 by what Q1 admitted since its last
 * report: at most its token bucket (a share of what remained, ⌊L ÷ (1 stream × 2 instances)⌋ = 10
 * at most) plus one tick's refill, and one request before its first assignment. So R may spend
 * what Q1 has already spent, once.
 */
const MIXED_TOLERANCE = Math.floor(LIMIT / EXPECTED_INSTANCES) + TICK_REFILL + 1;
/**
 * R starts after Q1's first full report tick, so R admits at most what remains after it: L less Q1's
 * first-phase admissions, plus what Q1 admitted after that tick and had not reported when R started
 * (up to 2 s of phase 1 at 1 per 6 s: one tick's refill), plus one for a tick that falls late on a
 * busy machine. Counters apart (not shared), R would admit the whole limit.
 */
const MIXED_LAG = TICK_REFILL + 1;
/**
 * Two RLQS Envoys: as on the memory store, one tick's refill over both Envoys and one request each
 * before the first assignment; and, across two instances, Q2 hears of an exhausted window only at
 * its own report (the other instance's push does not reach it): one more tick of its refill.
 */
const RLQS_TOLERANCE = Math.ceil((5 * LIMIT) / 60) + 2 + TICK_REFILL;

const POLICY = `
domain: sluice
descriptors:
  - key: tenant
    rate_limit: { unit: minute, requests_per_unit: ${LIMIT} }
`;

interface Store {
  readonly args: readonly string[];
  stop(): Promise<void>;
}

const STORES: Record<string, () => Promise<Store>> = {
  redis: async () => {
    const redis = await startRedis();
    return { args: ["--redis-url", redis.url], stop: () => redis.stop() };
  },
  "redis cluster": async () => {
    const cluster = await startRedisCluster();
    return { args: ["--redis-cluster", cluster.nodes.join(",")], stop: () => cluster.stop() };
  },
};

interface Sent {
  readonly atMs: number;
  readonly status: number;
}

describe.each(Object.keys(STORES))(
  "one tenant across RLQS and RLS Envoys and two Sluice instances on %s",
  (name) => {
    let dir: string;
    let store: Store | undefined;
    const sluices: SluiceProcess[] = [];
    let upstream: Server;
    const envoys: RunningEnvoy[] = [];
    const sent = new Map<string, Sent[]>();

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "sluice-rlqs-shared-"));
      await writeFile(join(dir, "sluice.yaml"), POLICY);
      store = await STORES[name]!();
      const args = ["--policy", dir, ...store.args, "--expected-instances", String(EXPECTED_INSTANCES)];
      sluices.push(...(await Promise.all([startSluice(args), startSluice(args)])));
      const started = await startUpstream("upstream");
      upstream = started.server;
      const at = (port: number): HostPort => ({ host: "127.0.0.1", port });
      const common = {
        listener: at(0),
        admin: at(0),
        upstream: at(started.port),
      };
      const [a, b] = sluices.map((sluice) => at(Number(sluice.grpcAddress.split(":")[1]))) as [
        HostPort,
        HostPort,
      ];
      envoys.push(
        ...(await Promise.all([
          startEnvoyOnConfig(renderRlqsEnvoyConfig({ ...common, rlqs: a })),
          startEnvoyOnConfig(renderRlqsEnvoyConfig({ ...common, rlqs: b })),
          startEnvoyOnConfig(renderRlsEnvoyConfig({ ...common, rls: b })),
        ])),
      );
      const [q1, q2, r] = envoys as [RunningEnvoy, RunningEnvoy, RunningEnvoy];

      // The traffic stays in one minute slot, so the window admits exactly the limit (no slot decay).
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 60_000 - TRAFFIC_MS - 3_000) await sleep(60_000 - intoMinute + 200);
      const start = Date.now();
      const drive = async (label: string, envoy: RunningEnvoy, tenant: string, fromMs = 0) => {
        const statuses: Sent[] = [];
        sent.set(label, statuses);
        await sleep(fromMs);
        while (Date.now() - start < TRAFFIC_MS) {
          const reply = await send(`${envoy.url}/`, { headers: { [TENANT_HEADER]: tenant } });
          statuses.push({ atMs: Date.now() - start, status: reply.status });
          await sleep(100);
        }
      };
      await Promise.all([
        drive("mixed Q1", q1, "mixed"),
        drive("mixed R", r, "mixed", PHASE_MS),
        drive("rlqs Q1", q1, "shared"),
        drive("rlqs Q2", q2, "shared"),
      ]);
    }, 75_000);
    afterAll(async () => {
      await Promise.all(envoys.map((envoy) => envoy.stop()));
      await Promise.all(sluices.map((sluice) => sluice.stop()));
      await store?.stop();
      upstream?.closeAllConnections();
      upstream?.close();
      await rm(dir, { recursive: true, force: true });
    });

    const admitted = (label: string, beforeMs = Number.POSITIVE_INFINITY) =>
      (sent.get(label) ?? []).filter((s) => s.status === 200 && s.atMs < beforeMs).length;
    const refused = (label: string) => (sent.get(label) ?? []).filter((s) => s.status === 429).length;

    it(`holds the tenant to ${LIMIT} a minute across an RLQS Envoy and an RLS Envoy, within ${MIXED_TOLERANCE}`, () => {
      const [rlqs, rls] = [admitted("mixed Q1"), admitted("mixed R")];
      const rlqsFirstPhase = admitted("mixed Q1", PHASE_MS);
      console.log(
        `${name}, RLQS + RLS: admitted ${rlqs} (${rlqsFirstPhase} alone) + ${rls} = ${rlqs + rls} of ${LIMIT}`,
      );
      // Every request either passed or was refused by a limit: nothing failed open or broke.
      for (const label of ["mixed Q1", "mixed R"]) {
        expect(admitted(label) + refused(label)).toBe(sent.get(label)?.length);
      }
      expect(rlqs + rls).toBeLessThanOrEqual(LIMIT + MIXED_TOLERANCE);
      expect(rlqs + rls).toBeGreaterThanOrEqual(LIMIT - 2);
      // The RLS side saw the RLQS side's reported usage: it admitted only what was left.
      expect(rls).toBeGreaterThan(0);
      expect(rls).toBeLessThanOrEqual(LIMIT - rlqsFirstPhase + MIXED_LAG);
      expect(refused("mixed R")).toBeGreaterThan(0);
    });

    it(`holds the tenant to ${LIMIT} a minute across two RLQS Envoys on two instances, within ${RLQS_TOLERANCE}`, () => {
      const shares = [admitted("rlqs Q1"), admitted("rlqs Q2")];
      const total = shares[0]! + shares[1]!;
      console.log(`${name}, RLQS on two instances: admitted ${shares.join(" + ")} = ${total} of ${LIMIT}`);
      expect(total).toBeLessThanOrEqual(LIMIT + RLQS_TOLERANCE);
      expect(total).toBeGreaterThanOrEqual(LIMIT - 2);
      expect(Math.min(...shares)).toBeGreaterThanOrEqual(5);
    });
  },
);
