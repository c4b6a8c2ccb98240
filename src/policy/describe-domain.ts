import type { DomainSummary } from "./policy-types.ts";

/** One line per domain for `sluice check`, e.g. `api: 14 rules (deploy/policies/api.yaml)`. */
export function describeDomain(summary: DomainSummary): string {
  const rules = summary.ruleCount === 1 ? "1 rule" : `${summary.ruleCount} rules`;
  return `${summary.domain}: ${rules} (${summary.file})`;
}
