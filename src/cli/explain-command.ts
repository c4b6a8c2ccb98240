import { parseArgs } from "node:util";
import { systemClock } from "../clock.ts";
import { explainJson } from "../edge/admin/explain-json.ts";
import { createExplainer } from "../limiter/explain-call.ts";
import type { CallDescriptor, RateLimitCall } from "../limiter/limiter-types.ts";
import { loadPolicies } from "../policy/load-policies.ts";
import { formatPolicyError } from "../policy/policy-types.ts";
import { parseRedisStore } from "../settings/redis-settings.ts";
import { counterKey } from "../store/counter-key.ts";
import { createCounterStore, redisTarget } from "../store/create-counter-store.ts";
import { createLeaseStore } from "../store/create-lease-store.ts";
import { lazyLeaseStore } from "../store/lazy-lease-store.ts";

export const EXPLAIN_HELP = `usage: sluice explain --admin-url URL --domain DOMAIN DESCRIPTOR [DESCRIPTOR ...]
       sluice explain --policy PATH [--policy PATH ...] --redis-url URL --domain DOMAIN DESCRIPTOR [...]
Shows, without counting a hit, what a ShouldRateLimit call would meet now: the rule each
descriptor matches and why, every window's estimate, remaining and reset, the next call's code
and Retry-After, and the concurrency leases held. Prints JSON (docs/explain-and-usage.md).
  DESCRIPTOR              one descriptor's entries in order: key=value[,key=value...]
  --admin-url URL         ask a running instance's admin port (POST URL/explain)
  --policy PATH           or read the policy here and the counters from Redis directly:
  --redis-url URL         one Redis (redis://, rediss:// or unix://)
  --redis-cluster NODES   a Redis Cluster, comma-separated HOST:PORT seeds
  --hits-addend N         the call's hits_addend (default 0, which counts as 1)`;

/** `sluice explain`: exit 0 with the explanation on stdout, 1 when it could not be had, 2 for usage. */
export async function explainCommand(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error: unknown) {
    return usage(error instanceof Error ? error.message : String(error));
  }
  const { values, call } = parsed;
  if (values["admin-url"] !== undefined) {
    if (values.policy !== undefined) return usage("--admin-url and --policy are exclusive: set one");
    return explainRemotely(values["admin-url"], call);
  }
  if (values.policy === undefined) return usage("set --admin-url, or --policy with a Redis");
  const errors: string[] = [];
  const redis = parseRedisStore(
    { redisUrl: values["redis-url"], redisCluster: values["redis-cluster"] },
    (name) => (name === "redisUrl" ? "--redis-url" : name === "redisCluster" ? "--redis-cluster" : name),
    errors,
  );
  // This process's own memory holds no counters: only a shared store has anything to show.
  if (errors.length === 0 && redisTarget(redis) === undefined)
    errors.push("--policy needs --redis-url or --redis-cluster (a memory store is only inside its instance)");
  if (errors.length > 0) return usage(errors.join("\n"));

  const loaded = await loadPolicies(values.policy);
  if (!loaded.ok) {
    for (const error of loaded.errors) process.stderr.write(`sluice explain: ${formatPolicyError(error)}\n`);
    return 1;
  }
  const connection = { connectTimeoutMs: 5_000, commandTimeoutMs: 5_000 };
  const store = createCounterStore(redis, systemClock, connection);
  // Connected only when a descriptor matches a concurrency limit.
  const leases = lazyLeaseStore(() => createLeaseStore(redis, systemClock, connection));
  try {
    const explainer = createExplainer({
      policy: () => loaded.table,
      store,
      counterKey,
      decideOptions: { headerStyle: "x-ratelimit", upstreamHeaders: false },
      clock: systemClock,
      leasesHeld: (key, options) => leases.held(key, options),
    });
    return print(explainJson(await explainer.explain(call)));
  } catch (error: unknown) {
    process.stderr.write(`sluice explain: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await Promise.all([store.close(), leases.close()]);
  }
}

async function explainRemotely(adminUrl: string, call: RateLimitCall): Promise<number> {
  let response: Response;
  try {
    response = await fetch(new URL("/explain", adminUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(call),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error: unknown) {
    process.stderr.write(`sluice explain: ${adminUrl}: ${error instanceof Error ? error.message : error}\n`);
    return 1;
  }
  const body = await response.text();
  if (response.ok) {
    process.stdout.write(body);
    return 0;
  }
  process.stderr.write(`sluice explain: ${adminUrl} answered ${response.status}: ${body}`);
  return 1;
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      "admin-url": { type: "string" },
      policy: { type: "string", multiple: true },
      "redis-url": { type: "string" },
      "redis-cluster": { type: "string" },
      domain: { type: "string" },
      "hits-addend": { type: "string" },
    },
  });
  if (values.domain === undefined || values.domain === "") throw new Error("--domain is required");
  if (positionals.length === 0) throw new Error("name at least one descriptor, e.g. tenant=acme,plan=pro");
  const hits = values["hits-addend"] ?? "0";
  if (!/^\d+$/.test(hits)) throw new Error(`--hits-addend: expected a whole number, got "${hits}"`);
  const call: RateLimitCall = {
    domain: values.domain,
    descriptors: positionals.map(descriptorOf),
    hitsAddend: Number(hits),
  };
  return { values, call };
}

/** `tenant=acme,plan=pro`: entries in order; a value may hold `=` but not `,`. */
function descriptorOf(text: string): CallDescriptor {
  return {
    entries: text.split(",").map((pair) => {
      const at = pair.indexOf("=");
      if (at <= 0) throw new Error(`descriptor "${text}": expected key=value[,key=value...]`);
      return { key: pair.slice(0, at), value: pair.slice(at + 1) };
    }),
  };
}

function print(json: unknown): number {
  process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  return 0;
}

function usage(message: string): number {
  process.stderr.write(`sluice explain: ${message}\n${EXPLAIN_HELP}\n`);
  return 2;
}
