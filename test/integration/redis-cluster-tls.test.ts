import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePlanLease, freePlanLeaseRound, LEASE_ROUND } from "../support/free-plan-leases.ts";
import { type RedisClusterServers, startRedisCluster } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { callOutcome } from "../support/steady-load.ts";
import { ENFORCED, strictLimitOutcomes, strictRequest } from "../support/strict-limit.ts";
import { type CertificateFiles, createTestPki, type TestPki } from "../support/test-certificates.ts";

/**
 * A 3-node Redis Cluster that speaks only TLS (`port 0`, `tls-port`, `tls-cluster yes`) and asks
 * for a password: Sluice reaches it through `rediss://` seeds and --redis-tls-ca, for counters and
 * for concurrency leases (their own connections, which must get the same CA and credentials).
 */

const PASSWORD = "cluster-secret";
const POLICIES = ["--policy", "test/fixtures/reliability", "--policy", "test/fixtures/concurrency"];
const run = `${process.pid}-${Date.now()}`;

describe("Redis Cluster over TLS (rediss:// seeds) with AUTH", () => {
  let pki: TestPki;
  let ca: CertificateFiles;
  let cluster: RedisClusterServers;
  let seeds: string;

  beforeAll(async () => {
    pki = await createTestPki();
    ca = await pki.createCa("redis-ca");
    const server = await pki.issue(ca, "redis", "server");
    const peer = await pki.issue(ca, "redis-peer", "client");
    cluster = await startRedisCluster({
      tls: {
        ...{ certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile },
        ...{ clientCertFile: peer.certFile, clientKeyFile: peer.keyFile },
      },
      password: PASSWORD,
    });
    seeds = cluster.nodes.map((node) => `rediss://:${PASSWORD}@${node}`).join(",");
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await pki?.remove();
  });

  describe("with the CA its certificates chain to", () => {
    let sluice: SluiceProcess;
    let client: RlsClient;
    beforeAll(async () => {
      sluice = await startSluice([...POLICIES, "--redis-cluster", seeds, "--redis-tls-ca", ca.certFile]);
      client = createRlsClient(sluice.grpcAddress);
    });
    afterAll(async () => {
      client?.close();
      await sluice?.stop();
    });

    it("enforces a limit of 4 a minute with counters in the Cluster", async () => {
      await expect
        .poll(() => callOutcome(client, strictRequest("rel-default", `warm-${run}`), 2_000), {
          timeout: 10_000,
        })
        .toBe("OK+headers");
      expect(await strictLimitOutcomes(client, "rel-default", `tls-${run}`)).toEqual(ENFORCED);
      expect(sluice.output()).toContain('"store":"redis-cluster"');
    });

    it("keeps concurrency leases in the Cluster over the same TLS", async () => {
      expect(await freePlanLeaseRound(client, `tls-${run}`)).toEqual(LEASE_ROUND);
    });
  });

  it("does not trust the Cluster's certificates under another CA: calls answer per the failure policy", async () => {
    const other = await pki.createCa("other-ca");
    const sluice = await startSluice([
      ...POLICIES,
      "--redis-cluster",
      seeds,
      "--redis-tls-ca",
      other.certFile,
      // Well inside the calls' deadlines below (the harness default, 2 s, would race the first one).
      "--store-timeout-ms",
      "500",
    ]);
    const client = createRlsClient(sluice.grpcAddress);
    try {
      expect(await callOutcome(client, strictRequest("rel-default", `untrusted-${run}`), 2_000)).toBe(
        "UNAVAILABLE:store",
      );
      // The lease store has its own connections, opened by the first lease call; they refuse the
      // certificate too. Each lease script call is bounded by --store-timeout-ms.
      expect(
        await callOutcome(client, freePlanLease(`tls-${run}`, "lease_acquire", "untrusted"), 5_000),
      ).toMatch(/^UNAVAILABLE/);
      await expect
        .poll(() => sluice.output(), { timeout: 5_000 })
        .toMatch(/TLS to 127\.0\.0\.1:\d+: (self[- ]signed|unable to)/);
      expect(sluice.output()).not.toMatch(/Unhandled error|uncaught/i);
    } finally {
      client.close();
      expect(await sluice.stop()).toBe(0);
    }
  });
});
