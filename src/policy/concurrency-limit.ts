/**
 * Concurrency limits (a Sluice extension): a descriptor node may cap how many requests matching it
 * are in flight at once. Envoy's rate-limit protocol has no "request finished" call, so a request
 * takes a lease named by something Envoy can send twice (its `x-request-id`) and gives it back from
 * a second call Envoy makes when the stream ends (`apply_on_stream_done`). The two calls are told
 * apart by a reserved last entry, which is stripped before the rest of the descriptor is matched.
 */

/** Last entry of a descriptor that takes a lease; its value names the lease (the request id). */
export const LEASE_ACQUIRE_KEY = "lease_acquire";
/** Last entry of a descriptor that gives a lease back. */
export const LEASE_RELEASE_KEY = "lease_release";

/** Entry keys a policy may not use: they belong to the lease protocol. */
export const RESERVED_LEASE_KEYS: ReadonlySet<string> = new Set([LEASE_ACQUIRE_KEY, LEASE_RELEASE_KEY]);

/** A node's `concurrency:` block after validation. */
export interface ConcurrencySpec {
  /** Leases held at once, across every Sluice instance sharing the store. */
  readonly max: number;
  /** How long a request may wait for a free lease before it is refused, in ms (0: no queue). */
  readonly queueTimeoutMs: number;
  /** How long a lease lives without its release, in ms: the bound on a lost release. */
  readonly leaseTtlMs: number;
  /** The policy's `name` for this limit, reported in metrics and the 429 body. */
  readonly name?: string | undefined;
}

/** What the matcher hands the limiter for a node with a concurrency limit. */
export interface ConcurrencyRule extends ConcurrencySpec {
  /** Metrics label: the `name`, else the node's key path such as `tenant.plan=pro` (never request values). */
  readonly ruleId: string;
}

export const DEFAULT_QUEUE_TIMEOUT_MS = 0;
export const DEFAULT_LEASE_TTL_MS = 60_000;
/** Longest queue a policy may ask for; Envoy's rate-limit timeout has to cover it. */
export const MAX_QUEUE_TIMEOUT_MS = 60_000;
export const MIN_LEASE_TTL_MS = 1_000;
export const MAX_LEASE_TTL_MS = 86_400_000;
