import type { DescriptorMode } from "../store/counter-store.ts";
import type { WindowReport } from "./window-report.ts";

export interface DescriptorReports {
  readonly mode: DescriptorMode;
  readonly reports: readonly WindowReport[];
}

/**
 * The failing windows that keep a refused request refused: all of them must clear before the same
 * request can pass, so the request's Retry-After is the latest of theirs.
 *
 * Following `isAdmitted`: every failing window of an enforced descriptor blocks; quota descriptors
 * block only together, so when all of them failed, the request waits for the one that clears
 * first (its own failing windows); shadow descriptors never block.
 *
 * Should the store's verdict disagree with this reading (it never should), every failing window
 * that is not shadow is returned, so the answer still describes a real limit.
 */
export function blockingWindows(descriptors: readonly DescriptorReports[]): WindowReport[] {
  const failing = (d: DescriptorReports) => d.reports.filter((r) => !r.passed);
  const blocking = descriptors.filter((d) => d.mode === "enforced").flatMap(failing);

  const quota = descriptors.filter((d) => d.mode === "quota");
  if (quota.length > 0 && quota.every((d) => failing(d).length > 0)) {
    let soonest: WindowReport[] | undefined;
    let soonestWait = Number.POSITIVE_INFINITY;
    for (const d of quota) {
      const windows = failing(d);
      const wait = Math.max(...windows.map((r) => r.retryAfterSeconds ?? Number.POSITIVE_INFINITY));
      if (soonest === undefined || wait < soonestWait) {
        soonest = windows;
        soonestWait = wait;
      }
    }
    blocking.push(...(soonest ?? []));
  }

  if (blocking.length > 0) return blocking;
  return descriptors.filter((d) => d.mode !== "shadow").flatMap(failing);
}
