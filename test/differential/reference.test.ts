import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { awayFromMinuteEnd } from "../support/minute-slot.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { type ReferenceRatelimit, startReference } from "../support/reference-ratelimit.ts";
import { createRlsClient, type RlsClient, type RlsRequest } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { type ComparedAnswer, comparedAnswer, firstDifference } from "./compare-replies.ts";
import { domainYaml, generateDomains } from "./policy-generator.ts";
import { generateStream } from "./request-stream.ts";
import { seededRandom } from "./seeded-random.ts";

// Sluice against the reference service, envoyproxy/ratelimit, on the same seeded policies and the same
// calls, one at a time, each on its own fresh Redis. Every difference fails the test unless
// known-differences.ts lists it, and those are never generated. SLUICE_DIFF_SEED=7 (or 7,8,9) reruns
// chosen seeds; a failure prints its seed, the call, both answers and the policy.

const DEFAULT_SEEDS = [1, 2, 3, 4, 5, 6];
const REQUESTS_PER_SEED = 300;

const seeds = (process.env.SLUICE_DIFF_SEED ?? DEFAULT_SEEDS.join(",")).split(",").map((s) => {
  const seed = Number(s.trim());
  if (!Number.isSafeInteger(seed)) throw new Error(`SLUICE_DIFF_SEED: not an integer list: ${s}`);
  return seed;
});

describe("Sluice answers as envoyproxy/ratelimit does", () => {
  it.each(seeds)("seed %i", async (seed) => {
    console.log(`differential seed ${seed}: SLUICE_DIFF_SEED=${seed} reproduces it`);
    const random = seededRandom(seed);
    // Even seeds may send check-only descriptors (hits_addend 0), odd ones any cost (known-differences.ts).
    const checkOnly = seed % 2 === 0;
    const minLimit = checkOnly ? 4 : 1;
    const domains = generateDomains(random, { minLimit });
    const policies = Object.fromEntries(domains.map((d) => [`${d.domain}.yaml`, domainYaml(d)]));
    const stream = generateStream(random, domains, { requests: REQUESTS_PER_SEED, checkOnly, minLimit });

    const running = await startBoth(policies);
    try {
      await awayFromMinuteEnd();
      const minute = Math.floor(Date.now() / 60_000);
      const tally = new Map<string, number>();
      for (const [index, request] of stream.entries()) {
        const reference = await answer(running.referenceClient, request);
        const sluice = await answer(running.sluiceClient, request);
        // Sliding and fixed windows agree only within one window (known-differences.ts); a stream
        // that starts at most 50 s into a minute takes a few seconds, so this is a safeguard.
        if (Math.floor(Date.now() / 60_000) !== minute) {
          throw new Error(`seed ${seed}: the stream outlived its minute at call ${index}`);
        }
        const difference =
          typeof reference === "string" || typeof sluice === "string"
            ? reference === sluice
              ? undefined
              : "the calls did not both succeed, or failed differently"
            : firstDifference(reference, sluice);
        if (typeof sluice !== "string") countAnswer(tally, sluice);
        if (difference !== undefined) {
          expect.fail(
            [
              `seed ${seed}, call ${index} of ${stream.length}: ${difference}`,
              `call: ${JSON.stringify(request)}`,
              `reference: ${JSON.stringify(reference)}`,
              `sluice:    ${JSON.stringify(sluice)}`,
              `earlier calls: ${JSON.stringify(stream.slice(0, index))}`,
              ...Object.entries(policies).map(([name, text]) => `--- ${name}\n${text}`),
            ].join("\n"),
          );
        }
      }
      // What the stream exercised, so a generator change that stops reaching a case shows.
      console.log(
        `seed ${seed} (${checkOnly ? "check-only" : "any cost"}): ${JSON.stringify(Object.fromEntries(tally))}`,
      );
    } finally {
      await running.stop();
    }
  });
});

function countAnswer(tally: Map<string, number>, answer: ComparedAnswer): void {
  const add = (what: string) => tally.set(what, (tally.get(what) ?? 0) + 1);
  add(`call ${answer.overall}`);
  for (const status of answer.statuses) {
    if (status.limit === null)
      add(status.remaining === 0 ? "descriptor not limited" : "descriptor unlimited");
    // OK with a limit but no reset: a quota_mode descriptor over its limit.
    else if (status.code === "OK" && status.resetSeconds === null) add("descriptor OK over its quota");
    else
      add(`descriptor ${status.code}${status.code === "OK" && status.remaining === 0 ? " with 0 left" : ""}`);
  }
}

interface Both {
  readonly referenceClient: RlsClient;
  readonly sluiceClient: RlsClient;
  stop(): Promise<void>;
}

async function startBoth(policies: Record<string, string>): Promise<Both> {
  const dir = await mkdtemp(join(tmpdir(), "sluice-differential-"));
  let reference: ReferenceRatelimit | undefined;
  let redis: RedisServer | undefined;
  let sluice: SluiceProcess | undefined;
  const stop = async () => {
    await Promise.all([reference?.stop(), sluice?.stop()]);
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [name, text] of Object.entries(policies)) await writeFile(join(dir, name), text);
    [reference, redis] = await Promise.all([startReference({ policies }), startRedis()]);
    // No local over-limit cache: every answer comes from the counters, as the reference's do.
    sluice = await startSluice(["--policy", dir, "--redis-url", redis.url, "--local-cache-size", "0"]);
    const referenceClient = createRlsClient(reference.grpcAddress);
    const sluiceClient = createRlsClient(sluice.grpcAddress);
    return {
      referenceClient,
      sluiceClient,
      async stop() {
        referenceClient.close();
        sluiceClient.close();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The compared parts of the answer, or `gRPC status <code>` when the call failed. */
async function answer(client: RlsClient, request: RlsRequest): Promise<ComparedAnswer | string> {
  try {
    return comparedAnswer(await client.shouldRateLimit(request));
  } catch (error) {
    return `gRPC status ${(error as { code?: number }).code}`;
  }
}
