import type { WindowReport } from "./window-report.ts";

/**
 * The failing windows that keep a refused request refused: all of them must clear before the same
 * request can pass, so the request's Retry-After is the latest of theirs.
 *
 * Following `isAdmitted`: every failing window of an enforced descriptor blocks; shadow and quota
 * descriptors never block. Should the store's verdict disagree with this reading (it never should),
 * every failing window is returned, so the answer still describes a limit that was hit.
 */
export function blockingWindows(reports: readonly WindowReport[]): WindowReport[] {
  const failing = reports.filter((r) => !r.passed);
  const enforced = failing.filter((r) => r.mode === "enforced");
  return enforced.length > 0 ? enforced : failing;
}
