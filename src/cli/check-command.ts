import { describeDomain } from "../policy/describe-domain.ts";
import { loadPolicies } from "../policy/load-policies.ts";
import { formatPolicyError } from "../policy/policy-types.ts";

/** `sluice check PATH...`: exit 0 with one summary line per domain, or 1 with every error. */
export async function checkCommand(paths: readonly string[]): Promise<number> {
  if (paths.length === 0) {
    process.stderr.write("usage: sluice check PATH [PATH ...]\n");
    return 2;
  }
  const loaded = await loadPolicies(paths);
  if (!loaded.ok) {
    for (const error of loaded.errors) process.stderr.write(`${formatPolicyError(error)}\n`);
    return 1;
  }
  for (const summary of loaded.table.domains.values()) process.stdout.write(`${describeDomain(summary)}\n`);
  return 0;
}
