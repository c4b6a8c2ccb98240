import type { handleBidiStreamingCall, ServerDuplexStream } from "@grpc/grpc-js";
import {
  type RateLimitQuotaResponse,
  type RateLimitQuotaResponse_BucketAction,
  RateLimitQuotaServiceService,
  type RateLimitQuotaUsageReports,
} from "../../generated/envoy/service/rate_limit_quota/v3/rlqs.ts";
import {
  type RateLimitStrategy,
  RateLimitStrategy_BlanketRule,
} from "../../generated/envoy/type/v3/ratelimit_strategy.ts";
import type { QuotaAssignment } from "../../limiter/quota-assignment.ts";
import type { BucketAction, QuotaStreams, ReportedUsage } from "../../limiter/quota-streams.ts";

export const RATE_LIMIT_QUOTA_SERVICE = "envoy.service.rate_limit_quota.v3.RateLimitQuotaService";

type QuotaCall = ServerDuplexStream<RateLimitQuotaUsageReports, RateLimitQuotaResponse>;

export interface RateLimitQuotaService {
  readonly definition: typeof RateLimitQuotaServiceService;
  readonly implementation: {
    streamRateLimitQuotas: handleBidiStreamingCall<RateLimitQuotaUsageReports, RateLimitQuotaResponse>;
  };
  /**
   * Ends every open stream (status OK) so the server can shut down: a bidi stream Envoy holds open
   * for its lifetime would otherwise hold the graceful shutdown for its whole grace period. Envoy
   * keeps its assignments and opens a new stream on its next report tick.
   */
  endStreams(): void;
}

/**
 * The thin gRPC edge of the Rate Limit Quota Service: protobuf in and out, the streams and the
 * quota arithmetic in the core (quota-streams.ts, quota-limiter.ts).
 */
export function createRateLimitQuotaService(streams: QuotaStreams): RateLimitQuotaService {
  const open = new Set<QuotaCall>();
  const streamRateLimitQuotas = (call: QuotaCall): void => {
    open.add(call);
    const stream = streams.open((actions) => {
      if (!call.writableEnded) call.write({ bucketAction: actions.map(toBucketAction) });
    });
    const ended = (): void => {
      open.delete(call);
      stream.close();
    };
    call.on("data", (message: RateLimitQuotaUsageReports) => {
      // Envoy 1.40 sends `domain` on every message (docs/rlqs-findings.md, 6).
      void stream.report(message.domain, message.bucketQuotaUsages.map(toReportedUsage));
    });
    call.on("end", () => {
      ended();
      call.end();
    });
    call.on("cancelled", ended);
    call.on("error", ended);
  };
  return {
    definition: RateLimitQuotaServiceService,
    implementation: { streamRateLimitQuotas },
    endStreams() {
      for (const call of open) call.end();
      open.clear();
    },
  };
}

function toReportedUsage(usage: RateLimitQuotaUsageReports["bucketQuotaUsages"][number]): ReportedUsage {
  // time_elapsed is not read: Envoy sends 0 for a new bucket and whole seconds after that, and the
  // counters take each report's requests at the store's clock when it arrives.
  return {
    bucket: usage.bucketId?.bucket ?? {},
    allowed: usage.numRequestsAllowed,
    denied: usage.numRequestsDenied,
  };
}

function toBucketAction(action: BucketAction): RateLimitQuotaResponse_BucketAction {
  const bucketId = { bucket: { ...action.bucket } };
  if ("abandon" in action) return { bucketId, abandonAction: {} };
  return {
    bucketId,
    quotaAssignmentAction: {
      assignmentTimeToLive: { seconds: action.assignment.ttlSeconds, nanos: 0 },
      rateLimitStrategy: toStrategy(action.assignment),
    },
  };
}

/** Only the strategies Envoy 1.40 implements: blanket rules and token buckets (not requests_per_time_unit). */
function toStrategy(assignment: QuotaAssignment): RateLimitStrategy {
  switch (assignment.kind) {
    case "allow_all":
      return { blanketRule: RateLimitStrategy_BlanketRule.ALLOW_ALL };
    case "deny_all":
      return { blanketRule: RateLimitStrategy_BlanketRule.DENY_ALL };
    case "token_bucket":
      return {
        tokenBucket: {
          maxTokens: assignment.maxTokens,
          // Set explicitly: Envoy 1.40 never refills a bucket whose tokens_per_fill is unset.
          tokensPerFill: assignment.tokensPerFill,
          fillInterval: { seconds: assignment.fillIntervalSeconds, nanos: 0 },
        },
      };
  }
}
