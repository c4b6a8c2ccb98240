import { buildPolicyTable } from "./build-policy-table.ts";
import type { PolicyLoadResult } from "./policy-types.ts";
import { readPolicySources } from "./read-policy-sources.ts";

/**
 * Loads the policy from files and directories (see readPolicySources for how directories are
 * read). Returns the compiled table, or every error found across every file: unreadable files
 * and YAML syntax errors as well as policy mistakes, each with its file and key path.
 */
export async function loadPolicies(paths: readonly string[]): Promise<PolicyLoadResult> {
  const { sources, errors } = await readPolicySources(paths);
  const built = buildPolicyTable(sources);
  if (errors.length === 0) return built;
  return { ok: false, errors: built.ok ? errors : [...errors, ...built.errors] };
}
