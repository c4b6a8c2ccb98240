/**
 * The counter store: the one interface between the limiter core and its backends
 * (MemoryCounterStore, RedisCounterStore). Nothing above this file names ioredis.
 *
 * A store decides admission itself because the check and the increment must be one atomic
 * step (one Lua script in Redis), otherwise concurrent instances would over-admit. The rule
 * it applies is the one in `src/limiter/admission.ts`; the Redis script mirrors it and the
 * contract suite (test/contract/) holds every store to the same answers.
 */

/**
 * How a descriptor's failing windows affect the request's overall answer: an enforced descriptor
 * refuses it, a shadow one never does. (quota_mode descriptors never refuse either, as in
 * envoyproxy/ratelimit: the limiter hands them over as shadow; see admissionMode in plan-charges.ts.)
 */
export type DescriptorMode = "enforced" | "shadow";

/** One sliding window of one descriptor to check and charge. */
export interface WindowCharge {
  /** Window length in milliseconds. */
  readonly windowMs: number;
  /** L: hits allowed per window. */
  readonly limit: number;
}

/** One matched descriptor of a request: its counter, its windows, and how it takes part. */
export interface DescriptorCharge {
  /**
   * Counter identity (already bounded and collision-free: see counter-key.ts). All windows of one
   * descriptor live under this key, so in Redis Cluster they share one hash slot.
   */
  readonly counterKey: string;
  readonly mode: DescriptorMode;
  /** h: hits this request adds (0 = check without consuming). */
  readonly cost: number;
  /** Whether a refused request still adds `cost` to these windows. */
  readonly countRejected: boolean;
  readonly windows: readonly WindowCharge[];
}

/** The two slots of one window a decision reads. */
export interface SlotCounts {
  /** c: hits in the current slot k = floor(now / windowMs). */
  readonly current: number;
  /** p: hits in the previous slot k - 1. */
  readonly previous: number;
}

/** Counters of one window as they stand after this request's accounting. */
export interface WindowCounts extends SlotCounts {
  /** Whether this window alone admitted the request (E + h <= L, E taken before accounting). */
  readonly passed: boolean;
}

export interface ChargeResult {
  /** The store's clock at the decision, in ms since the epoch (Redis `TIME` for Redis). */
  readonly nowMs: number;
  /** The request's overall admission, per `isAdmitted` in admission.ts. */
  readonly admitted: boolean;
  /** Same shape as the input: counts[i][j] belongs to descriptors[i].windows[j]. */
  readonly counts: readonly (readonly WindowCounts[])[];
}

export interface ChargeOptions {
  /**
   * When the caller stops waiting, in ms since the epoch (the gRPC call's deadline). Backends may
   * ignore it; the guarded store (guarded-counter-store.ts) gives up on the charge by then.
   */
  readonly deadlineMs?: number | undefined;
}

/** What `CounterStore.peek` read: the counters as they stand, nothing charged. */
export interface PeekResult {
  /** The store's clock at the read, in ms since the epoch (Redis `TIME` for Redis). */
  readonly nowMs: number;
  /** Same shape as the input: counts[i][j] belongs to descriptors[i].windows[j]. */
  readonly counts: readonly (readonly SlotCounts[])[];
}

/** Hits to add to one slot of one window of a counter, without a check (see `CounterStore.addHits`). */
export interface SlotHits {
  readonly counterKey: string;
  readonly windowMs: number;
  /** The slot k = floor(t / windowMs) the hits fell in, by the store's clock. */
  readonly slot: number;
  readonly hits: number;
}

export interface CounterStore {
  /**
   * Checks every window of every descriptor, decides admission for the whole request, then
   * charges: admitted → every window adds its descriptor's cost; refused → only descriptors with
   * `countRejected` add it. Atomic for one descriptor; across descriptors atomic where the backend
   * allows (memory, single Redis; Redis Cluster per hash slot).
   * Rejects with a StoreError when the backend fails.
   *
   * A store that needs no I/O (the memory store) answers with the result itself, so a call can be
   * decided and answered in one turn of the event loop; a remote store answers with a promise.
   */
  charge(
    descriptors: readonly DescriptorCharge[],
    options?: ChargeOptions,
  ): ChargeResult | Promise<ChargeResult>;
  /**
   * Reads every window's two slots at the store's clock without writing anything: no hit, no
   * expiry touched, no counter created. Only the slot keys the descriptors name are read (never a
   * scan), so an operator's question costs what one charge costs. Costs, limits and modes are
   * ignored; the limiter core does the arithmetic (explain-call.ts). Rejects with a StoreError.
   * On a Redis Cluster each hash-slot group is read on its own node, so the read is atomic per
   * group, like a charge.
   */
  peek(descriptors: readonly DescriptorCharge[], options?: ChargeOptions): PeekResult | Promise<PeekResult>;
  /**
   * Adds hits that were refused without asking the store (the local over-limit cache answers a
   * refused client's retries itself) to the slots they fell in, so count_rejected holds for them
   * too. One write per slot key; no check, no decision. Rejects with a StoreError on failure.
   */
  addHits(hits: readonly SlotHits[]): void | Promise<void>;
  /** Resolves when the backend answers; used by health checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A backend failure. `transient` errors (connection loss, timeouts) may succeed on retry.
 * `reachable`: the store did answer, so this failure says nothing about the node's health (a
 * Cluster node refusing a key of a slot being migrated away); the guard's circuit does not count it.
 */
export class StoreError extends Error {
  readonly transient: boolean;
  readonly reachable: boolean;
  constructor(message: string, options: { transient: boolean; reachable?: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "StoreError";
    this.transient = options.transient;
    this.reachable = options.reachable ?? !options.transient;
  }
}

/** The error as a transient StoreError (connection lost, timeout), or undefined: anything else stays an error. */
export function transientStoreError(error: unknown): StoreError | undefined {
  return error instanceof StoreError && error.transient ? error : undefined;
}
