import type { DescriptorEntry } from "../policy/policy-types.ts";
import type { Unit } from "../policy/units.ts";

/** A ShouldRateLimit call in domain terms (the gRPC edge maps protobuf to this). */
export interface RateLimitCall {
  readonly domain: string;
  readonly descriptors: readonly CallDescriptor[];
  /** The request's hits_addend as sent; 0 means 1. */
  readonly hitsAddend: number;
}

export interface CallDescriptor {
  readonly entries: readonly DescriptorEntry[];
  /** A limit Envoy chose for this descriptor (from dynamic metadata), used instead of the policy's. */
  readonly limitOverride?: { readonly requestsPerUnit: number; readonly unit: Unit } | undefined;
  /** This descriptor's own cost when set (0 = check without consuming). */
  readonly hitsAddend?: number | undefined;
}

export type Code = "OK" | "OVER_LIMIT";

export interface ReportedLimit {
  readonly requestsPerUnit: number;
  readonly unit: Unit;
  readonly name?: string | undefined;
}

/** One entry of the response's `statuses`, in the order of the call's descriptors. */
export interface DescriptorStatus {
  readonly code: Code;
  /** The descriptor's binding window; absent when nothing limits the descriptor. */
  readonly currentLimit?: ReportedLimit | undefined;
  readonly limitRemaining: number;
  /** (k + 1)·W − t for the binding window, in milliseconds. */
  readonly durationUntilResetMs?: number | undefined;
}

export interface Header {
  readonly key: string;
  readonly value: string;
}

/** The limiter's answer, mapped to RateLimitResponse at the edge. */
export interface Decision {
  readonly code: Code;
  readonly statuses: readonly DescriptorStatus[];
  /** Headers Envoy adds to the downstream response (on OK and on 429). */
  readonly responseHeaders: readonly Header[];
  /** Headers Envoy adds to the upstream request on OK (off unless configured). */
  readonly requestHeaders: readonly Header[];
  /** The 429 body on OVER_LIMIT (JSON), with its content type passed as a response header. */
  readonly body?: Uint8Array | undefined;
  /** Per-descriptor facts for metrics: which rule matched and how it ended. */
  readonly outcomes: readonly RuleOutcome[];
  /** A refusal answered OK by the service-wide shadow mode (shadow-every-decision.ts), for metrics. */
  readonly shadowed?: boolean | undefined;
  /**
   * Called by the edge when the answer reached no one (the caller cancelled, or its deadline
   * passed, before it was sent): gives back the concurrency leases it granted, since Envoy sends no
   * stream-done release for a call it cancelled and lets a timed-out one through unleased.
   */
  readonly undelivered?: (() => void) | undefined;
}

export interface RuleOutcome {
  readonly ruleId: string;
  /** The rule's path in envoyproxy/ratelimit's stat naming (MatchedRule.statKey); absent: no such series. */
  readonly statKey?: readonly string[] | undefined;
  /** The hits this descriptor charged (its hits_addend), which the reference's stats count. */
  readonly hits?: number | undefined;
  readonly code: Code;
  readonly shadow: boolean;
  /** Fraction of the binding window used after this request (0..1+), for near-limit metrics. */
  readonly usedFraction: number;
}

/** Which rate-limit headers the service asks Envoy to add. */
export type HeaderStyle = "x-ratelimit" | "draft" | "envoy-ratelimit" | "none";

/** The caller sent something the protocol does not allow; answered INVALID_ARGUMENT. */
export class InvalidRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidRequestError";
  }
}
