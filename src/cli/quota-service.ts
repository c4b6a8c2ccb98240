import {
  createRateLimitQuotaService,
  type RateLimitQuotaService,
} from "../edge/grpc/rate-limit-quota-service.ts";
import { ALLOW_ALL } from "../limiter/quota-assignment.ts";
import { createQuotaLimiter, type QuotaLimiterOptions } from "../limiter/quota-limiter.ts";
import { createQuotaStreams } from "../limiter/quota-streams.ts";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";

export interface QuotaServiceOptions extends QuotaLimiterOptions {
  /** The service-wide shadow mode (--shadow-mode): usage still counts, every bucket is assigned ALLOW_ALL. */
  readonly shadowMode?: boolean | undefined;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

export interface QuotaService {
  /** For the gRPC server, which serves it beside RLS. */
  readonly service: RateLimitQuotaService;
  /** After a policy reload: every tracked bucket is assessed again and changed assignments are pushed. */
  policyReloaded(): void;
}

/**
 * Wires the Rate Limit Quota Service: the quota limiter on the RLS limiter's policy, store and
 * failure policy (so both protocols share one count and one outage behaviour), the stream registry,
 * its metrics and logs, and the gRPC edge.
 */
export function createQuotaService(options: QuotaServiceOptions): QuotaService {
  const { metrics, logger } = options;
  const limiter = createQuotaLimiter(options);
  const streams = createQuotaStreams({
    limiter: options.shadowMode
      ? { assess: async (usage, sharers) => (await limiter.assess(usage, sharers)) && ALLOW_ALL }
      : limiter,
    onReport: () => metrics.recordQuotaReport(),
    onAction: (action) => metrics.recordQuotaAction("abandon" in action ? "abandon" : action.assignment.kind),
    onError: (err) => logger.error({ err }, "RLQS bucket not assessed; no assignment sent"),
  });
  metrics.watchQuotaStreams(() => ({ streams: streams.streamCount(), buckets: streams.bucketCount() }));
  return {
    service: createRateLimitQuotaService(streams),
    policyReloaded: () => void streams.reassessAll(),
  };
}
