import type { PolicyTable } from "./policy-types.ts";

/**
 * What Sluice answers when its counter store cannot be asked (unreachable, too slow, or shedding load):
 * - `unavailable`: gRPC UNAVAILABLE, so Envoy's own `failure_mode_deny` decides (the default: the
 *   operator who configured Envoy keeps the say);
 * - `allow`: OK without rate-limit headers (fail open);
 * - `deny`: OVER_LIMIT without headers (fail closed);
 * - `local`: decide with this instance's own memory counters at the limit's share per instance
 *   (limit ÷ expected instances) until the store answers again.
 * Set for the whole service and, per domain, by a policy file's top-level `failure_policy`.
 */
export type FailurePolicy = "unavailable" | "allow" | "deny" | "local";

/** A domain's failure policy: its policy file's `failure_policy`, else the service's, else `unavailable`. */
export function failurePolicyOf(
  table: PolicyTable,
  domain: string,
  service: FailurePolicy | undefined,
): FailurePolicy {
  return table.domains.get(domain)?.failurePolicy ?? service ?? "unavailable";
}

export const FAILURE_POLICIES: readonly FailurePolicy[] = ["unavailable", "allow", "deny", "local"];

export function isFailurePolicy(text: string): text is FailurePolicy {
  return (FAILURE_POLICIES as readonly string[]).includes(text);
}
