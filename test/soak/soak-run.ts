import { setTimeout as sleep } from "node:timers/promises";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient, type RlsRequest } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { type MemoryGrowth, type MemorySample, memoryGrowth } from "./memory-growth.ts";

/**
 * A soak run: Sluice on a real Redis (one process, --workers 1, so its own metrics are the server's
 * memory), first driven flat out to find its throughput here, then at half of that, paced, for
 * `durationMs`, while its RSS and heap are read from /metrics. Shared by the CI test (60 s) and
 * `npm run soak` (10 minutes).
 */
export interface SoakOptions {
  readonly durationMs: number;
  /** Samples before this are not judged: JIT, pools and caches fill up first. */
  readonly warmupMs: number;
  readonly sampleEveryMs: number;
  /** How long the flat-out calibration runs. */
  readonly calibrateMs: number;
  readonly onProgress?: (line: string) => void;
}

export interface SoakReport {
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Calls per second answered flat out (64 in flight) by this harness and server on this machine. */
  readonly maxRps: number;
  readonly targetRps: number;
  readonly achievedRps: number;
  readonly calls: number;
  /** Calls that failed (any gRPC error); the soak's traffic is all valid, so this should be 0. */
  readonly errors: number;
  /** Calls the pacer skipped because too many were already in flight (the server fell behind). */
  readonly skipped: number;
  readonly samples: readonly MemorySample[];
  readonly growth: MemoryGrowth;
}

const CLIENTS = 4;
const MAX_IN_FLIGHT = 256;
const TICK_MS = 10;

/** A realistic mix over bounded key spaces: 10,000 users, 1,000 strict keys, 500 tenants on the sample plans. */
function mix(n: number): RlsRequest {
  const r = n % 10;
  if (r < 8)
    return { domain: "rel-default", descriptors: [{ entries: [{ key: "user", value: `u${n % 10_000}` }] }] };
  if (r === 8)
    return { domain: "rel-default", descriptors: [{ entries: [{ key: "strict", value: `s${n % 1_000}` }] }] };
  const plan = ["free", "starter", "pro", "enterprise"][n % 4] as string;
  return {
    domain: "api",
    descriptors: [
      {
        entries: [
          { key: "tenant", value: `t${n % 500}` },
          { key: "plan", value: plan },
        ],
      },
    ],
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.onProgress ?? (() => {});
  let redis: RedisServer | undefined;
  let sluice: SluiceProcess | undefined;
  const clients: RlsClient[] = [];
  try {
    redis = await startRedis();
    sluice = await startSluice([
      "--policy",
      "deploy/policies/api.yaml",
      "--policy",
      "test/fixtures/reliability",
      "--redis-url",
      redis.url,
      "--workers",
      "1",
    ]);
    for (let i = 0; i < CLIENTS; i++) clients.push(createRlsClient(sluice.grpcAddress));

    const maxRps = await calibrate(clients, options.calibrateMs);
    const targetRps = Math.max(1, Math.floor(maxRps / 2));
    log(
      `calibrated: ${maxRps} calls/s flat out; soaking at ${targetRps} calls/s for ${options.durationMs / 1000} s`,
    );

    const adminUrl = sluice.adminUrl;
    const samples: MemorySample[] = [];
    const started = Date.now();
    const sampler = (async () => {
      while (Date.now() - started < options.durationMs) {
        samples.push({ atMs: Date.now() - started, ...(await readMemory(adminUrl)) });
        const last = samples.at(-1) as MemorySample;
        log(`t=${Math.round(last.atMs / 1000)}s rss=${mb(last.rssBytes)} heap=${mb(last.heapUsedBytes)}`);
        await sleep(options.sampleEveryMs);
      }
    })();
    const paced = await pace(clients, targetRps, options.durationMs);
    await sampler;
    samples.push({ atMs: Date.now() - started, ...(await readMemory(adminUrl)) });

    return {
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      maxRps,
      targetRps,
      achievedRps: Math.round(paced.calls / (options.durationMs / 1000)),
      calls: paced.calls,
      errors: paced.errors,
      skipped: paced.skipped,
      samples,
      growth: memoryGrowth(samples, options.warmupMs),
    };
  } finally {
    for (const client of clients) client.close();
    await sluice?.stop();
    await redis?.stop();
  }
}

/** Calls answered per second with 64 in flight, after a short warm-up. */
async function calibrate(clients: readonly RlsClient[], durationMs: number): Promise<number> {
  let n = 0;
  const run = async (ms: number) => {
    const until = Date.now() + ms;
    let answered = 0;
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        while (Date.now() < until) {
          await (clients[w % clients.length] as RlsClient).shouldRateLimit(mix(n++)).catch(() => {});
          answered++;
        }
      }),
    );
    return answered;
  };
  await run(Math.min(2_000, durationMs / 2));
  return Math.round((await run(durationMs)) / (durationMs / 1000));
}

/** Sends `rps` calls a second on a fixed schedule (open loop), never more than MAX_IN_FLIGHT at once. */
async function pace(clients: readonly RlsClient[], rps: number, durationMs: number) {
  let calls = 0;
  let errors = 0;
  let skipped = 0;
  let inFlight = 0;
  let n = 0;
  const started = Date.now();
  const pending = new Set<Promise<void>>();
  while (Date.now() - started < durationMs) {
    const due = Math.floor(((Date.now() - started) / 1000) * rps);
    while (calls + errors + skipped + inFlight < due) {
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped++;
        continue;
      }
      inFlight++;
      const call = (clients[n % clients.length] as RlsClient)
        .shouldRateLimit(mix(n++), { timeoutMs: 5_000 })
        .then(
          () => calls++,
          () => errors++,
        )
        .then(() => {
          inFlight--;
          pending.delete(call);
        });
      pending.add(call);
    }
    await sleep(TICK_MS);
  }
  await Promise.all(pending);
  return { calls, errors, skipped };
}

async function readMemory(adminUrl: string): Promise<Omit<MemorySample, "atMs">> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const value = (name: string) => {
    const match = new RegExp(`^${name} (\\S+)`, "m").exec(text);
    if (match?.[1] === undefined) throw new Error(`${name} missing from /metrics`);
    return Number(match[1]);
  };
  return {
    rssBytes: value("process_resident_memory_bytes"),
    heapUsedBytes: value("nodejs_heap_size_used_bytes"),
  };
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
