import type {
  CallExplanation,
  DescriptorExplanation,
  WindowExplanation,
} from "../../limiter/explain-call.ts";
import type { MatchExplanation } from "../../policy/explain-match.ts";

/**
 * The JSON bodies of /explain (everything, for an operator) and /usage (a tenant's limits, for a
 * customer's usage page). Times are ISO instants and whole seconds; nothing here reads a clock.
 */

export function explainJson(explanation: CallExplanation): unknown {
  const { next, nowMs } = explanation;
  return {
    domain: explanation.domain,
    knownDomain: explanation.knownDomain,
    at: new Date(nowMs).toISOString(),
    nextCall: {
      code: next.code,
      retryAfterSeconds: retryAfter(next.responseHeaders),
      responseHeaders: next.responseHeaders,
    },
    descriptors: explanation.descriptors.map((d) => ({
      entries: d.entries,
      ...(d.lease ? { lease: d.lease } : {}),
      outcome: d.outcome,
      why: why(d),
      rule: d.ruleId,
      mode: d.mode,
      override: d.override,
      cost: d.cost,
      replacedWindows: d.replacedWindows,
      match: d.match,
      status: d.status && {
        code: d.status.code,
        limitRemaining: d.status.limitRemaining,
        currentLimit: d.status.currentLimit,
        resetSeconds: seconds(d.status.durationUntilResetMs),
      },
      windows: d.windows.map((w) => ({
        name: w.name,
        unit: w.unit,
        limit: w.limit,
        windowSeconds: w.windowMs / 1000,
        current: w.current,
        previous: w.previous,
        estimate: w.estimate,
        remaining: w.remaining,
        resetSeconds: seconds(w.resetMs),
        next: w.next,
      })),
      concurrency: d.concurrency && {
        name: d.concurrency.rule.name ?? d.concurrency.rule.ruleId,
        max: d.concurrency.rule.max,
        held: d.concurrency.held,
      },
    })),
  };
}

/** Enforced and quota windows (shadow ones hold no one), one entry per limit, as used and left. */
export function usageJson(explanation: CallExplanation): unknown {
  const at = explanation.nowMs;
  const limits = explanation.descriptors.flatMap((d) =>
    d.mode === undefined || d.mode === "shadow" ? [] : d.windows.map((w) => usageOf(d, w, at)),
  );
  const concurrency = explanation.descriptors.flatMap((d) =>
    d.concurrency === undefined
      ? []
      : [
          {
            name: d.concurrency.rule.name ?? d.concurrency.rule.ruleId,
            descriptor: d.entries,
            max: d.concurrency.rule.max,
            // Leases in flight now, as /explain names them; absent when the lease store was not asked.
            held: d.concurrency.held,
          },
        ],
  );
  return {
    domain: explanation.domain,
    descriptor: explanation.descriptors[0]?.entries ?? [],
    at: new Date(at).toISOString(),
    limits,
    concurrency,
  };
}

function usageOf(d: DescriptorExplanation, w: WindowExplanation, at: number) {
  return {
    name: w.name ?? d.ruleId,
    descriptor: d.entries,
    unit: w.unit,
    limit: w.limit,
    // Whole hits, so used + remaining = limit until the limit is passed (E is fractional).
    used: Math.max(w.limit - w.remaining, Math.round(w.estimate)),
    remaining: w.remaining,
    resetSeconds: seconds(w.resetMs),
    resetAt: new Date(at + w.resetMs).toISOString(),
  };
}

/** One line an operator reads first, e.g. `tenant: any value (bare key) → plan=pro (exact); enforced`. */
function why(d: DescriptorExplanation): string {
  const path = d.match === undefined ? "unknown domain" : matchPath(d.match);
  switch (d.outcome) {
    case "charged": {
      const mode = d.mode === "enforced" ? "enforced" : `${d.mode} mode`;
      const replaced = d.replacedWindows.length > 0 ? `; replaced: ${d.replacedWindows.join(", ")}` : "";
      return `${path}; ${d.override ? "Envoy's limit override" : mode}${replaced}`;
    }
    case "unmatched":
      return `${path}; no rule, not limited`;
    case "whitelisted":
      return `${path}; the node sets no limit, not limited`;
    case "unlimited":
      return `${path}; unlimited`;
    case "replaced":
      return `${path}; every window replaced by another descriptor's (${d.replacedWindows.join(", ")})`;
    case "lease":
      return `${path}; concurrency lease (${d.lease})`;
  }
}

function matchPath(match: MatchExplanation): string {
  const steps = match.steps.map((s) =>
    s.node === "exact"
      ? `${s.key}=${s.value} (exact)`
      : s.node === "wildcard"
        ? `${s.key}=${s.value} (wildcard ${s.policyValue}${s.shared ? ", one shared counter" : ""})`
        : `${s.key}=${s.value} (bare key, any value)`,
  );
  if (match.unmatched !== undefined) {
    steps.push(
      match.unmatched.reason === "no-node"
        ? `entry ${match.unmatched.index}: no node takes it`
        : `entry ${match.unmatched.index}: the policy ends before it`,
    );
  }
  return steps.join(" → ");
}

function retryAfter(headers: readonly { key: string; value: string }[]): number | undefined {
  const header = headers.find((h) => h.key.toLowerCase() === "retry-after");
  return header === undefined ? undefined : Number(header.value);
}

function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.ceil(ms / 1000);
}
