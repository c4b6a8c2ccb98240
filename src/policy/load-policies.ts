import { type BuildPolicyOptions, buildPolicyTable } from "./build-policy-table.ts";
import { ROOT_PATH } from "./key-path.ts";
import type { PolicyError, PolicyLoadResult } from "./policy-types.ts";
import { readPolicySources } from "./read-policy-sources.ts";

/**
 * Loads the policy from files and directories (see readPolicySources for how directories are
 * read). Returns the compiled table, or every error found across every file: unreadable files
 * and YAML syntax errors as well as policy mistakes, each with its file and key path.
 */
export async function loadPolicies(
  paths: readonly string[],
  options: BuildPolicyOptions = {},
): Promise<PolicyLoadResult> {
  const { sources, errors } = await readPolicySources(paths);
  const built = buildPolicyTable(sources, options);
  if (errors.length === 0) return built.ok && built.table.domains.size === 0 ? noDomain(paths) : built;
  return { ok: false, errors: built.ok ? errors : [...errors, ...built.errors] };
}

/**
 * A policy without domains limits nothing, so it is an error, not an empty table: a directory
 * whose last file vanished (an emptied ConfigMap, a sync gone wrong) must not switch every limit
 * off, neither at start (`serve`, `check`) nor on a reload, which keeps the last good table.
 */
function noDomain(paths: readonly string[]): PolicyLoadResult {
  const error: PolicyError = {
    file: paths.join(", "),
    path: ROOT_PATH,
    message: "no domain: no *.yaml or *.yml policy file here; a policy without domains would limit nothing",
  };
  return { ok: false, errors: [error] };
}
