import type { RateLimitDescriptor } from "../../generated/envoy/extensions/common/ratelimit/v3/ratelimit.ts";
import {
  type RateLimitRequest,
  type RateLimitResponse,
  RateLimitResponse_Code,
  type RateLimitResponse_DescriptorStatus,
  RateLimitResponse_RateLimit_Unit,
} from "../../generated/envoy/service/ratelimit/v3/rls.ts";
import { RateLimitUnit } from "../../generated/envoy/type/v3/ratelimit_unit.ts";
import {
  type CallDescriptor,
  type Decision,
  type DescriptorStatus,
  InvalidRequestError,
  type RateLimitCall,
} from "../../limiter/limiter-types.ts";
import type { Unit } from "../../policy/units.ts";

/**
 * Protobuf ↔ domain mapping: the only place that knows both the generated types and the core's.
 * Both unit enums (RateLimitUnit for overrides, RateLimit.Unit for replies) share the same numbers.
 */
const UNIT_BY_NUMBER = new Map<number, Unit>([
  [RateLimitUnit.SECOND, "second"],
  [RateLimitUnit.MINUTE, "minute"],
  [RateLimitUnit.HOUR, "hour"],
  [RateLimitUnit.DAY, "day"],
  [RateLimitUnit.WEEK, "week"],
  [RateLimitUnit.MONTH, "month"],
  [RateLimitUnit.YEAR, "year"],
]);

export const REPLY_UNIT: Record<Unit, RateLimitResponse_RateLimit_Unit> = {
  second: RateLimitResponse_RateLimit_Unit.SECOND,
  minute: RateLimitResponse_RateLimit_Unit.MINUTE,
  hour: RateLimitResponse_RateLimit_Unit.HOUR,
  day: RateLimitResponse_RateLimit_Unit.DAY,
  week: RateLimitResponse_RateLimit_Unit.WEEK,
  month: RateLimitResponse_RateLimit_Unit.MONTH,
  year: RateLimitResponse_RateLimit_Unit.YEAR,
};

/**
 * The call for a generated RateLimitRequest message. The server decodes requests with
 * decode-request.ts instead, which its test checks against this for messages both accept.
 */
export function toRateLimitCall(request: RateLimitRequest): RateLimitCall {
  return {
    domain: request.domain,
    descriptors: request.descriptors.map(toCallDescriptor),
    hitsAddend: request.hitsAddend,
  };
}

function toCallDescriptor(descriptor: RateLimitDescriptor, index: number): CallDescriptor {
  const override = descriptor.limit;
  return {
    entries: descriptor.entries.map((e) => ({ key: e.key, value: e.value })),
    limitOverride:
      override === undefined
        ? undefined
        : { requestsPerUnit: override.requestsPerUnit, unit: overrideUnit(override.unit, index) },
    hitsAddend: descriptor.hitsAddend,
  };
}

/** The unit of descriptor `index`'s limit override, from its RateLimitUnit number. */
export function overrideUnit(unitNumber: number, index: number): Unit {
  const unit = UNIT_BY_NUMBER.get(unitNumber);
  if (unit === undefined) {
    throw new InvalidRequestError(`descriptors[${index}].limit.unit: unknown unit ${unitNumber}`);
  }
  return unit;
}

/** The reply's code for a decision's or a status's code. */
export function replyCode(code: Decision["code"]): RateLimitResponse_Code {
  return code === "OK" ? RateLimitResponse_Code.OK : RateLimitResponse_Code.OVER_LIMIT;
}

/** `duration_until_reset` for a reset in `ms` milliseconds. */
export function resetDuration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: Math.round(ms % 1000) * 1_000_000 };
}

/**
 * The decision as a generated RateLimitResponse message. The server encodes replies with
 * encode-decision.ts instead, byte for byte the same as encoding this (its test checks that).
 */
export function toRateLimitResponse(decision: Decision): RateLimitResponse {
  return {
    overallCode: replyCode(decision.code),
    statuses: decision.statuses.map(toDescriptorStatus),
    responseHeadersToAdd: decision.responseHeaders.map((h) => ({
      key: h.key,
      value: h.value,
      rawValue: EMPTY,
    })),
    requestHeadersToAdd: decision.requestHeaders.map((h) => ({
      key: h.key,
      value: h.value,
      rawValue: EMPTY,
    })),
    rawBody: decision.body === undefined ? EMPTY : Buffer.from(decision.body),
    dynamicMetadata: undefined,
    quota: undefined,
  };
}

const EMPTY = Buffer.alloc(0);

function toDescriptorStatus(status: DescriptorStatus): RateLimitResponse_DescriptorStatus {
  const limit = status.currentLimit;
  const resetMs = status.durationUntilResetMs;
  return {
    code: replyCode(status.code),
    currentLimit:
      limit === undefined
        ? undefined
        : { requestsPerUnit: limit.requestsPerUnit, unit: REPLY_UNIT[limit.unit], name: limit.name ?? "" },
    limitRemaining: status.limitRemaining,
    durationUntilReset: resetMs === undefined ? undefined : resetDuration(resetMs),
    quota: undefined,
  };
}
