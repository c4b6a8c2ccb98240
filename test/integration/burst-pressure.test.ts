import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, startRedisCluster } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice, stopProcess } from "../support/sluice-process.ts";

const POLICY = "test/fixtures/exactness/exact.yaml";
const INSTANCES = 2;
const BURST = 1_000;
const LIMIT = 100;
/** The client's deadline: generous, as Envoy's `timeout` would be set for a burst this size. */
const DEADLINE_MS = 20_000;

interface BurstOutcome {
  readonly ok: number;
  readonly overLimit: number;
  readonly errors: string[];
}

/**
 * Two Sluice processes with the product's default settings (worker count, store timeout, breaker,
 * local cache) on one real redis-server, then on a real 3-node Cluster. A burst of concurrent calls
 * on a fresh key must be answered with decisions only — an error is a request Envoy lets through
 * unlimited when it fails open — and exactly the limit admitted: on a cold start, on a quiet
 * machine, and while two busy processes occupy both cores. A burst over several tenants, whose
 * counters live in several slots (on a Cluster, on several masters, batched per master), must be
 * exact for each tenant.
 */
describe.each(["redis", "redis-cluster"] as const)(
  "bursts on two instances with default settings (%s)",
  (backend) => {
    let redis: { stop(): Promise<void> } | undefined;
    let sluices: SluiceProcess[] = [];
    let clients: RlsClient[] = [];

    beforeAll(async () => {
      let storeArgs: string[];
      if (backend === "redis") {
        const server = await startRedis();
        redis = server;
        storeArgs = ["--redis-url", server.url];
      } else {
        const cluster = await startRedisCluster();
        redis = cluster;
        storeArgs = ["--redis-cluster", cluster.nodes.join(",")];
      }
      sluices = await Promise.all(
        Array.from({ length: INSTANCES }, () =>
          startSluice(["--policy", POLICY, ...storeArgs], {}, { productDefaults: true }),
        ),
      );
      clients = sluices.map((s) => createRlsClient(s.grpcAddress));
    });

    afterAll(async () => {
      for (const c of clients) c.close();
      await Promise.all(sluices.map((s) => s.stop()));
      await redis?.stop();
    });

    /** `calls` concurrent calls, round-robin over the instances and over `tenants` fresh tenants. */
    const burst = async (calls = BURST, tenants = 1): Promise<BurstOutcome[]> => {
      const prefix = `burst-${Date.now()}-${Math.random()}`;
      const settled = await Promise.allSettled(
        Array.from({ length: calls }, (_, i) =>
          (clients[i % INSTANCES] as RlsClient).shouldRateLimit(
            {
              domain: "exact",
              descriptors: [{ entries: [{ key: "tenant", value: `${prefix}-${i % tenants}` }] }],
            },
            { timeoutMs: DEADLINE_MS },
          ),
        ),
      );
      const outcomes = Array.from({ length: tenants }, () => ({
        ok: 0,
        overLimit: 0,
        errors: [] as string[],
      }));
      settled.forEach((s, i) => {
        const outcome = outcomes[i % tenants] as { ok: number; overLimit: number; errors: string[] };
        if (s.status === "rejected") outcome.errors.push(String((s.reason as Error).message));
        else if (s.value.overall_code === "OK") outcome.ok++;
        else if (s.value.overall_code === "OVER_LIMIT") outcome.overLimit++;
        else outcome.errors.push(`overall_code ${s.value.overall_code}`);
      });
      return outcomes;
    };

    const expectExact = (outcomes: BurstOutcome[], calls = BURST) => {
      for (const outcome of outcomes) {
        expect(outcome.errors.slice(0, 5), `${outcome.errors.length} errors`).toEqual([]);
        expect(outcome.ok).toBe(LIMIT);
        expect(outcome.overLimit).toBe(calls / outcomes.length - LIMIT);
      }
    };

    it("answers the first burst after start with decisions only, exactly the limit admitted", async () => {
      expectExact(await burst());
    });

    it("answers a burst on a quiet machine the same way", async () => {
      expectExact(await burst());
    });

    it("answers a burst over 10 tenants with exactly the limit admitted for each", async () => {
      expectExact(await burst(1_500, 10), 1_500);
    });

    it("answers bursts the same way while two busy processes occupy both cores", async () => {
      const hogs = [busyProcess(), busyProcess()];
      try {
        for (let round = 0; round < 3; round++) expectExact(await burst());
        expectExact(await burst(1_500, 10), 1_500);
      } finally {
        await Promise.all(hogs.map((h) => stopProcess(h, 1_000)));
      }
    });
  },
);

/** A process spinning on one core for at most 60 s (it stops by itself), stopped by PID. */
function busyProcess(): ChildProcess {
  return spawn(process.execPath, ["-e", "const end = Date.now() + 60000; while (Date.now() < end) {}"], {
    stdio: "ignore",
  });
}
