import { bucketEntries } from "./bucket-entries.ts";
import { dumpDomains } from "./dump-policy.ts";
import { explainMatch } from "./explain-match.ts";
import { matchDescriptor } from "./match-descriptor.ts";
import type { CompiledDomain } from "./match-tree.ts";
import type { DomainSummary, PolicyTable } from "./policy-types.ts";

/** Wraps compiled domains (distinct names, checked by the caller) in the frozen table the service reads. */
export function createPolicyTable(domains: readonly CompiledDomain[]): PolicyTable {
  const byName = new Map<string, CompiledDomain>();
  const summaries = new Map<string, DomainSummary>();
  for (const compiled of domains) {
    byName.set(compiled.domain, compiled);
    summaries.set(
      compiled.domain,
      Object.freeze({
        domain: compiled.domain,
        file: compiled.file,
        ruleCount: compiled.ruleCount,
        failurePolicy: compiled.failurePolicy,
      }),
    );
  }
  return Object.freeze({
    domains: summaries,
    match(domain, entries) {
      const compiled = byName.get(domain);
      return compiled && matchDescriptor(compiled, entries);
    },
    hasDomain: (domain) => byName.has(domain),
    dump: () => dumpDomains(domains),
    explain(domain, entries) {
      const compiled = byName.get(domain);
      return compiled && explainMatch(compiled, entries);
    },
    bucketEntries(domain, bucket) {
      const compiled = byName.get(domain);
      return compiled && bucketEntries(compiled, bucket);
    },
  } satisfies PolicyTable);
}
