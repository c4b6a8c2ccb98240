/**
 * The benchmark scenarios: which calls ghz sends (a JSON array it cycles through, one element per
 * call) and which servers each scenario is measured against.
 *
 * Every call carries the descriptors the sample Envoy config (envoy/envoy.yaml) sends for an API
 * route: (tenant, plan), (tenant, plan, route) and (api_key). Entries use the proto field names,
 * which ghz reads as protojson.
 */

/**
 * A server a scenario is measured against. `baseline` is the transport ceiling (bench/baseline-server.ts
 * answering a constant minimal OK); `baseline-sized` the same server answering a reply of Sluice's size
 * after an await, to show how much of the gap is the reply itself rather than the decision.
 * `reference` is envoyproxy/ratelimit on the same Redis (or Cluster), a row per configuration
 * (bench/reference-target.ts), given the bench policies in the form it accepts (reference-policies.ts).
 */
export type TargetName = "baseline" | "baseline-sized" | "memory" | "redis" | "redis-cluster" | "reference";

export interface Scenario {
  readonly name: string;
  /** One line for the report: what the mix is and what it should show. */
  readonly description: string;
  readonly targets: readonly TargetName[];
  /** The calls, cycled through in order by ghz. */
  requests(): RateLimitRequestJson[];
}

export interface RateLimitRequestJson {
  readonly domain: string;
  readonly descriptors: { readonly entries: { readonly key: string; readonly value: string }[] }[];
}

const PLANS = ["free", "starter", "pro", "enterprise"] as const;
const ROUTES = ["leads", "contacts", "bulk"] as const;

/** The three descriptors Envoy sends for one API call (see envoy/envoy.yaml, `rate_limits`). */
export function apiCall(
  domain: string,
  caller: { tenant: string; plan: string; route: string; apiKey: string },
): RateLimitRequestJson {
  const tenantPlan = [
    { key: "tenant", value: caller.tenant },
    { key: "plan", value: caller.plan },
  ];
  return {
    domain,
    descriptors: [
      { entries: tenantPlan },
      { entries: [...tenantPlan, { key: "route", value: caller.route }] },
      { entries: [{ key: "api_key", value: caller.apiKey }] },
    ],
  };
}

/** 10,000 tenants over the four plans, 4:3:2:1 from free to enterprise, each with its own key. */
export function manyTenantCalls(domain: string, tenants = 10_000): RateLimitRequestJson[] {
  const planOf = (i: number) => PLANS[[0, 0, 0, 0, 1, 1, 1, 2, 2, 3][i % 10] ?? 0] ?? "free";
  return Array.from({ length: tenants }, (_, i) =>
    apiCall(domain, {
      tenant: `tenant-${i}`,
      plan: planOf(i),
      route: ROUTES[i % ROUTES.length] ?? "leads",
      apiKey: `key-${i}`,
    }),
  );
}

/**
 * Nine calls in ten come from 20 free-plan tenants (20 a minute in deploy/policies/api.yaml) that
 * are over their limit after their first 20 calls; one in ten from 1,000 enterprise tenants that
 * stay well under 1,000 a minute. Once warm, about 90 % of answers are OVER_LIMIT.
 */
export function floodCalls(): RateLimitRequestJson[] {
  const calls: RateLimitRequestJson[] = [];
  let good = 0;
  for (let i = 0; i < 10_000; i++) {
    if (i % 10 === 0) {
      const n = good++;
      calls.push(
        apiCall("api", { tenant: `good-${n}`, plan: "enterprise", route: "leads", apiKey: `good-key-${n}` }),
      );
    } else {
      const n = i % 20;
      calls.push(
        apiCall("api", { tenant: `abuser-${n}`, plan: "free", route: "leads", apiKey: `abuse-key-${n}` }),
      );
    }
  }
  return calls;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "hot-tenant",
    description: "one enterprise tenant, two API keys, three routes; every call OK (domain bench)",
    targets: ["baseline", "baseline-sized", "memory", "redis", "reference"],
    requests: () =>
      ROUTES.flatMap((route) =>
        ["acme-key-1", "acme-key-2"].map((apiKey) =>
          apiCall("bench", { tenant: "acme", plan: "enterprise", route, apiKey }),
        ),
      ),
  },
  {
    name: "many-tenants",
    description: "10,000 tenants over the four plans, one key each; every call OK (domain bench)",
    targets: ["baseline", "baseline-sized", "memory", "redis", "reference"],
    requests: () => manyTenantCalls("bench"),
  },
  {
    name: "flood",
    description: "90 % of calls from 20 free tenants over their limit (domain api, the sample policy)",
    targets: ["baseline", "baseline-sized", "memory", "redis", "reference"],
    requests: floodCalls,
  },
  {
    name: "cluster",
    description: "the many-tenants mix on a 3-node Redis Cluster",
    targets: ["baseline", "redis-cluster", "reference"],
    requests: () => manyTenantCalls("bench"),
  },
];

export function findScenario(name: string): Scenario {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (scenario === undefined) {
    throw new Error(`unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(", ")}`);
  }
  return scenario;
}
