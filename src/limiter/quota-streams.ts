import type { QuotaAssignment } from "./quota-assignment.ts";
import type { QuotaLimiter } from "./quota-limiter.ts";

/** One bucket's line of a usage report. */
export interface ReportedUsage {
  readonly bucket: Readonly<Record<string, string>>;
  readonly allowed: number;
  readonly denied: number;
}

/** What Sluice sends one stream about one bucket: a quota, or `abandon` (Envoy forgets the bucket). */
export type BucketAction =
  | { readonly bucket: Readonly<Record<string, string>>; readonly assignment: QuotaAssignment }
  | { readonly bucket: Readonly<Record<string, string>>; readonly abandon: true };

export interface QuotaStreamsOptions {
  readonly limiter: QuotaLimiter;
  /** Told of each report and each action sent (metrics), and of an assessment that failed (logs). */
  readonly onReport?: (() => void) | undefined;
  readonly onAction?: ((action: BucketAction) => void) | undefined;
  readonly onError?: ((error: unknown) => void) | undefined;
}

export interface QuotaStream {
  /** Charges a report's usage and sends the stream its buckets' assignments; resolves once sent. */
  report(domain: string, usages: readonly ReportedUsage[]): Promise<void>;
  /** The stream ended: its buckets no longer count it. */
  close(): void;
}

export interface QuotaStreams {
  /** A new Envoy stream; `send` writes one response message to it. */
  open(send: (actions: readonly BucketAction[]) => void): QuotaStream;
  /** Assesses every tracked bucket again (0 allowed: nothing charged) and sends what changed: after a policy reload. */
  reassessAll(): Promise<void>;
  readonly streamCount: () => number;
  readonly bucketCount: () => number;
}

/**
 * A bucket Envoy reports nothing for during this many reports in a row (30 s at Envoy's 5 s tick) is
 * abandoned: Envoy keeps idle buckets forever (docs/rlqs-findings.md, 19), and each would otherwise
 * keep taking a share of the limit away from the Envoys that use it. Its next request subscribes it
 * again.
 */
export const ABANDON_AFTER_IDLE_REPORTS = 6;

interface TrackedBucket {
  readonly domain: string;
  readonly bucket: Readonly<Record<string, string>>;
  readonly key: string;
  last: QuotaAssignment | undefined;
  idleReports: number;
}

interface StreamState {
  readonly send: (actions: readonly BucketAction[]) => void;
  readonly buckets: Map<string, TrackedBucket>;
  /** Reports of one stream are handled in order, so its assignments are never sent out of order. */
  queue: Promise<void>;
  closed: boolean;
}

/**
 * The streams Envoys hold open and the buckets each reports: what divides a limit between Envoys.
 * Every report refreshes the reporting stream's assignments (their TTL runs from each one); an
 * assignment that changes is sent at once to every other stream holding the bucket too, so a limit
 * one Envoy exhausts is denied on the others without waiting for their own report tick.
 */
export function createQuotaStreams(options: QuotaStreamsOptions): QuotaStreams {
  /** Bucket key → the streams that report it. */
  const holders = new Map<string, Set<StreamState>>();
  const streams = new Set<StreamState>();

  const send = (stream: StreamState, actions: BucketAction[]): void => {
    if (stream.closed || actions.length === 0) return;
    for (const action of actions) options.onAction?.(action);
    stream.send(actions);
  };

  const assess = async (tracked: TrackedBucket, allowed: number): Promise<QuotaAssignment | undefined> => {
    const sharers = holders.get(tracked.key)?.size ?? 1;
    try {
      return await options.limiter.assess(
        { domain: tracked.domain, bucket: tracked.bucket, allowed },
        sharers,
      );
    } catch (error: unknown) {
      options.onError?.(error);
      return undefined;
    }
  };

  /** Sends `assignment` to the bucket's other holders whose last one differs. */
  const spread = (from: StreamState | undefined, key: string, assignment: QuotaAssignment): void => {
    for (const other of holders.get(key) ?? []) {
      if (other === from) continue;
      const tracked = other.buckets.get(key);
      if (tracked === undefined || sameAssignment(tracked.last, assignment)) continue;
      tracked.last = assignment;
      send(other, [{ bucket: tracked.bucket, assignment }]);
    }
  };

  const forget = (stream: StreamState, tracked: TrackedBucket): void => {
    stream.buckets.delete(tracked.key);
    const set = holders.get(tracked.key);
    set?.delete(stream);
    if (set?.size === 0) holders.delete(tracked.key);
  };

  const handleReport = async (stream: StreamState, domain: string, usages: readonly ReportedUsage[]) => {
    options.onReport?.();
    const reported = usages.map((usage) => track(stream, domain, usage));
    const actions: BucketAction[] = [];
    await Promise.all(
      reported.map(async ({ tracked, usage }) => {
        tracked.idleReports = usage.allowed === 0 && usage.denied === 0 ? tracked.idleReports + 1 : 0;
        if (tracked.idleReports >= ABANDON_AFTER_IDLE_REPORTS) {
          forget(stream, tracked);
          actions.push({ bucket: tracked.bucket, abandon: true });
          return;
        }
        const assignment = await assess(tracked, usage.allowed);
        if (assignment === undefined || stream.closed) return;
        tracked.last = assignment;
        actions.push({ bucket: tracked.bucket, assignment });
        spread(stream, tracked.key, assignment);
      }),
    );
    send(stream, actions);
  };

  const track = (stream: StreamState, domain: string, usage: ReportedUsage) => {
    const key = bucketKey(domain, usage.bucket);
    let tracked = stream.buckets.get(key);
    if (tracked === undefined) {
      tracked = { domain, bucket: usage.bucket, key, last: undefined, idleReports: 0 };
      stream.buckets.set(key, tracked);
      let set = holders.get(key);
      if (set === undefined) holders.set(key, (set = new Set()));
      set.add(stream);
    }
    return { tracked, usage };
  };

  return {
    open(sendActions) {
      const stream: StreamState = {
        send: sendActions,
        buckets: new Map(),
        queue: Promise.resolve(),
        closed: false,
      };
      streams.add(stream);
      return {
        report(domain, usages) {
          stream.queue = stream.queue.then(() => handleReport(stream, domain, usages));
          return stream.queue;
        },
        close() {
          if (stream.closed) return;
          stream.closed = true;
          streams.delete(stream);
          for (const tracked of [...stream.buckets.values()]) forget(stream, tracked);
        },
      };
    },
    async reassessAll() {
      await Promise.all(
        [...holders.keys()].map(async (key) => {
          const first = [...(holders.get(key) ?? [])][0]?.buckets.get(key);
          if (first === undefined) return;
          const assignment = await assess(first, 0);
          if (assignment !== undefined) spread(undefined, key, assignment);
        }),
      );
    },
    streamCount: () => streams.size,
    bucketCount: () => holders.size,
  };
}

/** A bucket's identity: its domain and entries in key order, unambiguous as JSON. */
export function bucketKey(domain: string, bucket: Readonly<Record<string, string>>): string {
  return JSON.stringify([
    domain,
    ...Object.keys(bucket)
      .sort()
      .map((k) => [k, bucket[k]]),
  ]);
}

function sameAssignment(a: QuotaAssignment | undefined, b: QuotaAssignment): boolean {
  if (a === undefined || a.kind !== b.kind || a.ttlSeconds !== b.ttlSeconds) return false;
  if (a.kind !== "token_bucket" || b.kind !== "token_bucket") return true;
  return (
    a.maxTokens === b.maxTokens &&
    a.tokensPerFill === b.tokensPerFill &&
    a.fillIntervalSeconds === b.fillIntervalSeconds
  );
}
