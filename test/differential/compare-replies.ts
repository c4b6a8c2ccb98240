import type { RlsReply } from "../support/rls-client.ts";

/**
 * The parts of a ShouldRateLimit reply the two services must agree on: the overall code and, per
 * descriptor, its code, current_limit, limit_remaining and duration_until_reset.
 */
export interface ComparedAnswer {
  readonly overall: string;
  readonly statuses: readonly {
    readonly code: string;
    /** `requests_per_unit/unit/name`, or null without a current_limit. */
    readonly limit: string | null;
    readonly remaining: number;
    /** duration_until_reset in seconds, or null when absent. */
    readonly resetSeconds: number | null;
  }[];
}

/**
 * How far the two durations until reset may be apart, in seconds. The reference computes
 * `unit − now mod unit` from the time in whole seconds, so it answers up to 1 s more than the
 * exact figure; Sluice answers in milliseconds from Redis TIME; and the two are asked one after the
 * other, a few milliseconds apart. 1.5 s covers both with room, yet catches a wrong unit or window
 * (those are off by at least a minute minus the time into it, or land on another boundary).
 */
export const RESET_TOLERANCE_SECONDS = 1.5;

export function comparedAnswer(reply: RlsReply): ComparedAnswer {
  return {
    overall: reply.overall_code,
    statuses: reply.statuses.map((s) => ({
      code: s.code,
      limit: s.current_limit
        ? `${s.current_limit.requests_per_unit}/${s.current_limit.unit}/${s.current_limit.name}`
        : null,
      remaining: s.limit_remaining,
      resetSeconds: s.duration_until_reset
        ? Number(s.duration_until_reset.seconds) + s.duration_until_reset.nanos / 1e9
        : null,
    })),
  };
}

/** The first difference between the reference's answer and Sluice's, in words; undefined when they agree. */
export function firstDifference(reference: ComparedAnswer, sluice: ComparedAnswer): string | undefined {
  if (reference.overall !== sluice.overall) {
    return `overall_code: reference ${reference.overall}, sluice ${sluice.overall}`;
  }
  if (reference.statuses.length !== sluice.statuses.length) {
    return `statuses: reference ${reference.statuses.length}, sluice ${sluice.statuses.length}`;
  }
  for (const [i, ref] of reference.statuses.entries()) {
    const own = sluice.statuses[i] as ComparedAnswer["statuses"][number];
    const at = `statuses[${i}]`;
    if (ref.code !== own.code) return `${at}.code: reference ${ref.code}, sluice ${own.code}`;
    if (ref.limit !== own.limit) return `${at}.current_limit: reference ${ref.limit}, sluice ${own.limit}`;
    if (ref.remaining !== own.remaining) {
      return `${at}.limit_remaining: reference ${ref.remaining}, sluice ${own.remaining}`;
    }
    const apart =
      ref.resetSeconds === null || own.resetSeconds === null
        ? ref.resetSeconds === own.resetSeconds
          ? 0
          : Number.POSITIVE_INFINITY
        : Math.abs(ref.resetSeconds - own.resetSeconds);
    if (apart > RESET_TOLERANCE_SECONDS) {
      return `${at}.duration_until_reset: reference ${ref.resetSeconds} s, sluice ${own.resetSeconds} s`;
    }
  }
  return undefined;
}
