import { buildPolicyTable } from "../../src/policy/build-policy-table.ts";
import type { PolicyTable } from "../../src/policy/policy-types.ts";

/** The table one policy file's text compiles to; a test's policy with errors fails the test at once. */
export function policyTableOf(text: string, file = "policy.yaml"): PolicyTable {
  const built = buildPolicyTable([{ file, text }]);
  if (!built.ok) throw new Error(`test policy does not load: ${JSON.stringify(built.errors)}`);
  return built.table;
}
