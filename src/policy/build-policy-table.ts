import { compileDomain } from "./compile-domain.ts";
import { createPolicyTable } from "./create-policy-table.ts";
import { mergeDomainSpecs } from "./merge-domain-specs.ts";
import { parsePolicyFile } from "./parse-policy-file.ts";
import type { PolicySource, PolicySpec } from "./policy-spec.ts";
import type { PolicyError, PolicyLoadResult } from "./policy-types.ts";

export interface BuildPolicyOptions {
  /**
   * Files naming the same domain add up to one domain (envoyproxy/ratelimit's MERGE_DOMAIN_CONFIG)
   * instead of being refused.
   */
  readonly mergeDomains?: boolean | undefined;
}

/**
 * Builds the policy table from file texts (pure: the file system stays in loadPolicies). Every
 * file is checked, and every error of every file is returned; the table exists only when there
 * are none, so a bad reload never replaces a good table with half a policy.
 */
export function buildPolicyTable(
  sources: readonly PolicySource[],
  options: BuildPolicyOptions = {},
): PolicyLoadResult {
  const errors: PolicyError[] = [];
  const warnings: PolicyError[] = [];
  const specs = new Map<string, PolicySpec>();
  for (const { file, text } of sources) {
    const parsed = parsePolicyFile(file, text);
    if (!parsed.ok) {
      errors.push(...parsed.errors);
      continue;
    }
    warnings.push(...parsed.warnings);
    const { domain } = parsed.spec;
    const first = specs.get(domain);
    if (first === undefined) {
      specs.set(domain, parsed.spec);
    } else if (options.mergeDomains) {
      const merged = mergeDomainSpecs(first, parsed.spec);
      if (merged.ok) specs.set(domain, merged.spec);
      else errors.push(...merged.errors);
    } else {
      // Merging would let one file silently change another's rules; the reference refuses it too
      // unless MERGE_DOMAIN_CONFIG is set.
      errors.push({
        file,
        path: "domain",
        message: `duplicate domain '${domain}' (also defined in ${first.file}); set --merge-domain-config true to merge files of one domain`,
      });
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    table: createPolicyTable([...specs.values()].map(compileDomain)),
    files: sources.map((source) => source.file),
    warnings,
  };
}
