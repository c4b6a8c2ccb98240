import { describeDomain } from "../policy/describe-domain.ts";
import { loadPolicies } from "../policy/load-policies.ts";
import { formatPolicyError, formatPolicyWarning } from "../policy/policy-types.ts";
import { parseMergeDomainConfig } from "../settings/settings.ts";
import { describeFlag } from "./serve-help.ts";

type Env = Readonly<Record<string, string | undefined>>;

export const CHECK_HELP = `usage: sluice check [--merge-domain-config true|false] PATH [PATH ...]

Loads policy files (a file, or a directory of *.yaml/*.yml) as serve would: prints one summary line
per domain and exits 0, or every error as file: path.to.key: message and exits 1. Warnings go to stderr.

Flags:
${describeFlag("mergeDomainConfig")}`;
const HINT = "run 'sluice check --help' for usage";
const MERGE_FLAG = "--merge-domain-config";

/**
 * `sluice check PATH...`: exit 0 with one summary line per domain, or 1 with every error. Warnings
 * (what loads only because envoyproxy/ratelimit accepts it) go to stderr either way and do not fail.
 */
export async function checkCommand(argv: readonly string[], env: Env = process.env): Promise<number> {
  const { paths, mergeFlag } = splitArgs(argv);
  const merge = parseMergeDomainConfig(mergeFlag, env);
  const unknown = paths.find((p) => p.startsWith("-"));
  const usageError = !merge.ok
    ? merge.error
    : unknown !== undefined
      ? `unknown option "${unknown}"`
      : paths.length === 0
        ? "no policy path given"
        : undefined;
  if (usageError !== undefined || !merge.ok) {
    process.stderr.write(`sluice check: ${usageError}\n${HINT}\n`);
    return 2;
  }
  const loaded = await loadPolicies(paths, { mergeDomains: merge.value });
  if (!loaded.ok) {
    for (const error of loaded.errors) process.stderr.write(`${formatPolicyError(error)}\n`);
    return 1;
  }
  for (const warning of loaded.warnings) process.stderr.write(`${formatPolicyWarning(warning)}\n`);
  for (const summary of loaded.table.domains.values()) process.stdout.write(`${describeDomain(summary)}\n`);
  return 0;
}

function splitArgs(argv: readonly string[]): { paths: string[]; mergeFlag: string | undefined } {
  const paths: string[] = [];
  let mergeFlag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === MERGE_FLAG) mergeFlag = argv[++i] ?? "";
    else if (arg.startsWith(`${MERGE_FLAG}=`)) mergeFlag = arg.slice(MERGE_FLAG.length + 1);
    else paths.push(arg);
  }
  return { paths, mergeFlag };
}
