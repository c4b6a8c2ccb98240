import { compileDomain } from "./compile-domain.ts";
import { createPolicyTable } from "./create-policy-table.ts";
import { parsePolicyFile } from "./parse-policy-file.ts";
import type { PolicySource, PolicySpec } from "./policy-spec.ts";
import type { PolicyError, PolicyLoadResult } from "./policy-types.ts";

/**
 * Builds the policy table from file texts (pure: the file system stays in loadPolicies). Every
 * file is checked, and every error of every file is returned; the table exists only when there
 * are none, so a bad reload never replaces a good table with half a policy.
 */
export function buildPolicyTable(sources: readonly PolicySource[]): PolicyLoadResult {
  const errors: PolicyError[] = [];
  const specs: PolicySpec[] = [];
  const fileOfDomain = new Map<string, string>();
  for (const { file, text } of sources) {
    const parsed = parsePolicyFile(file, text);
    if (!parsed.ok) {
      errors.push(...parsed.errors);
      continue;
    }
    const first = fileOfDomain.get(parsed.spec.domain);
    if (first !== undefined) {
      // Merging would let one file silently change another's rules; the reference refuses it too.
      errors.push({
        file,
        path: "domain",
        message: `duplicate domain '${parsed.spec.domain}' (also defined in ${first})`,
      });
      continue;
    }
    fileOfDomain.set(parsed.spec.domain, file);
    specs.push(parsed.spec);
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    table: createPolicyTable(specs.map(compileDomain)),
    files: sources.map((source) => source.file),
  };
}
