import type { ConcurrencySpec } from "./concurrency-limit.ts";
import type { FailurePolicy } from "./failure-policy.ts";
import type { LimitWindow } from "./policy-types.ts";

/**
 * A policy file after validation and before compilation: plain data in file order, with each
 * descriptor's key path kept for later error messages. The matcher never sees this shape.
 */
export interface PolicySpec {
  readonly file: string;
  readonly domain: string;
  readonly descriptors: readonly DescriptorSpec[];
  /** The file's top-level `failure_policy` (a Sluice extension); absent: the service's setting. */
  readonly failurePolicy?: FailurePolicy | undefined;
}

/** What a descriptor node limits: a set of windows, nothing at all (`unlimited`), or no rule. */
export type LimitSpec =
  | { readonly kind: "windows"; readonly windows: readonly LimitWindow[] }
  | {
      readonly kind: "unlimited";
      readonly name: string | undefined;
      /** Limits this one drops when both match in one request, as a windowed limit's do. */
      readonly replaces: readonly string[];
    };

export interface DescriptorSpec {
  /** Key path of the node in its file, e.g. `descriptors[0].descriptors[2]`. */
  readonly path: string;
  readonly key: string;
  /** The policy's value; `undefined` for a bare-key node. May hold `*` wildcards. */
  readonly value: string | undefined;
  readonly limit: LimitSpec | undefined;
  readonly shadowMode: boolean;
  readonly quotaMode: boolean;
  readonly detailedMetric: boolean;
  readonly valueToMetric: boolean;
  readonly shareThreshold: boolean;
  readonly countRejected: boolean;
  /** Cap on requests in flight at once (Sluice); undefined when the node sets none. */
  readonly concurrency?: ConcurrencySpec | undefined;
  readonly children: readonly DescriptorSpec[];
}

/** One policy file's text, named as the operator gave it (e.g. `deploy/policies/api.yaml`). */
export interface PolicySource {
  readonly file: string;
  readonly text: string;
}
