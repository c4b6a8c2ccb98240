import type { DescriptorSpec, PolicySpec } from "./policy-spec.ts";
import type { PolicyError } from "./policy-types.ts";

export type MergeResult =
  | { readonly ok: true; readonly spec: PolicySpec }
  | { readonly ok: false; readonly errors: readonly PolicyError[] };

/**
 * Adds a later file's rules to a domain an earlier file defined, as envoyproxy/ratelimit does with
 * MERGE_DOMAIN_CONFIG=true: the later file's top-level descriptors join the domain's, and one that
 * an earlier file already has (same key and value) is an error, as there, rather than an override,
 * so no file silently changes another's rule. Pure.
 */
export function mergeDomainSpecs(merged: PolicySpec, next: PolicySpec): MergeResult {
  const errors: PolicyError[] = [];
  const taken = new Map(merged.descriptors.map((d) => [identity(d), d]));
  for (const descriptor of next.descriptors) {
    const earlier = taken.get(identity(descriptor));
    if (earlier !== undefined) {
      errors.push({
        file: next.file,
        path: descriptor.path,
        message: `duplicate descriptor ${label(descriptor)} in domain '${next.domain}' (already at ${earlier.path} of ${merged.file})`,
      });
    }
  }
  // failure_policy is Sluice's own, per domain: two files may agree on it, or one may set it.
  const policies = [merged.failurePolicy, next.failurePolicy];
  if (policies[0] !== undefined && policies[1] !== undefined && policies[0] !== policies[1]) {
    errors.push({
      file: next.file,
      path: "failure_policy",
      message: `'${policies[1]}' conflicts with '${policies[0]}' set for domain '${next.domain}' in ${merged.file}`,
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    spec: {
      file: `${merged.file}, ${next.file}`,
      domain: merged.domain,
      descriptors: [...merged.descriptors, ...next.descriptors],
      failurePolicy: merged.failurePolicy ?? next.failurePolicy,
    },
  };
}

function identity(descriptor: DescriptorSpec): string {
  return JSON.stringify([descriptor.key, descriptor.value ?? null]);
}

function label(descriptor: DescriptorSpec): string {
  return descriptor.value === undefined ? `'${descriptor.key}'` : `'${descriptor.key}=${descriptor.value}'`;
}
