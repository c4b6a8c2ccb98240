import type { WindowReport } from "./window-report.ts";

/**
 * Which window a status or a set of headers describes when several apply. Ties are broken toward
 * the more cautious answer (fewer hits left, later reset), then toward the first window, so the
 * choice is deterministic.
 */

/** The window closest to refusing: least remaining, then the later reset. */
export function leastRemaining(reports: readonly WindowReport[]): WindowReport | undefined {
  return pick(reports, (a, b) => a.remaining - b.remaining || b.resetMs - a.resetMs);
}

/**
 * Among failing windows, the one the request must wait longest for: the latest retry time, a
 * window no wait can clear counting as latest of all; then least remaining, then the later reset.
 */
export function latestRetry(reports: readonly WindowReport[]): WindowReport | undefined {
  return pick(
    reports,
    (a, b) => retryOrder(b) - retryOrder(a) || a.remaining - b.remaining || b.resetMs - a.resetMs,
  );
}

/** A descriptor's binding window: its failing window with the latest retry, else its least remaining. */
export function descriptorBinding(reports: readonly WindowReport[]): WindowReport | undefined {
  const failing = reports.filter((r) => !r.passed);
  return failing.length > 0 ? latestRetry(failing) : leastRemaining(reports);
}

function retryOrder(report: WindowReport): number {
  return report.retryAfterSeconds ?? Number.POSITIVE_INFINITY;
}

// `compare` < 0 means the first argument binds more; the earliest of equals wins.
function pick(
  reports: readonly WindowReport[],
  compare: (a: WindowReport, b: WindowReport) => number,
): WindowReport | undefined {
  let best: WindowReport | undefined;
  for (const report of reports) {
    if (best === undefined || compare(report, best) < 0) best = report;
  }
  return best;
}
