import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
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
 * local cache) on one real redis-server. A burst of concurrent calls on a fresh key must be answered
 * with decisions only — an error is a request Envoy lets through unlimited when it fails open — and
 * exactly the limit admitted: on a cold start, on a quiet machine, and while two busy processes
 * occupy both cores.
 */
describe("bursts on two instances with default settings", () => {
  let redis: RedisServer;
  let sluices: SluiceProcess[] = [];
  let clients: RlsClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    sluices = await Promise.all(
      Array.from({ length: INSTANCES }, () =>
        startSluice(["--policy", POLICY, "--redis-url", redis.url], {}, { productDefaults: true }),
      ),
    );
    clients = sluices.map((s) => createRlsClient(s.grpcAddress));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(sluices.map((s) => s.stop()));
    await redis?.stop();
  });

  const burst = async (): Promise<BurstOutcome> => {
    const tenant = `burst-${Date.now()}-${Math.random()}`;
    const settled = await Promise.allSettled(
      Array.from({ length: BURST }, (_, i) =>
        (clients[i % INSTANCES] as RlsClient).shouldRateLimit(
          { domain: "exact", descriptors: [{ entries: [{ key: "tenant", value: tenant }] }] },
          { timeoutMs: DEADLINE_MS },
        ),
      ),
    );
    const errors: string[] = [];
    let ok = 0;
    let overLimit = 0;
    for (const s of settled) {
      if (s.status === "rejected") errors.push(String((s.reason as Error).message));
      else if (s.value.overall_code === "OK") ok++;
      else if (s.value.overall_code === "OVER_LIMIT") overLimit++;
      else errors.push(`overall_code ${s.value.overall_code}`);
    }
    return { ok, overLimit, errors };
  };

  const expectExact = (outcome: BurstOutcome) => {
    expect(outcome.errors.slice(0, 5), `${outcome.errors.length} errors`).toEqual([]);
    expect(outcome.ok).toBe(LIMIT);
    expect(outcome.overLimit).toBe(BURST - LIMIT);
  };

  it("answers the first burst after start with decisions only, exactly the limit admitted", async () => {
    expectExact(await burst());
  });

  it("answers a burst on a quiet machine the same way", async () => {
    expectExact(await burst());
  });

  it("answers bursts the same way while two busy processes occupy both cores", async () => {
    const hogs = [busyProcess(), busyProcess()];
    try {
      for (let round = 0; round < 3; round++) expectExact(await burst());
    } finally {
      await Promise.all(hogs.map((h) => stopProcess(h, 1_000)));
    }
  });
});

/** A process spinning on one core for at most 60 s (it stops by itself), stopped by PID. */
function busyProcess(): ChildProcess {
  return spawn(process.execPath, ["-e", "const end = Date.now() + 60000; while (Date.now() < end) {}"], {
    stdio: "ignore",
  });
}
