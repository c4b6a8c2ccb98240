import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../metrics/metrics.ts";
import { StoreError } from "../store/counter-store.ts";
import { createStoreObserver, storeErrorKind } from "./store-observer.ts";

function capturingLogger() {
  const lines: { level: number; msg: string; kind?: string; failedCharges?: number }[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe("storeErrorKind", () => {
  it("labels transient and permanent StoreErrors, and anything else as permanent", () => {
    expect(storeErrorKind(new StoreError("x", { transient: true }))).toBe("transient");
    expect(storeErrorKind(new StoreError("x", { transient: false }))).toBe("permanent");
    expect(storeErrorKind(new TypeError("bug"))).toBe("permanent");
  });
});

describe("createStoreObserver", () => {
  it("counts every failure by kind but logs once per run of failures, and once on recovery", async () => {
    const metrics = createMetrics();
    const { logger, lines } = capturingLogger();
    const observer = createStoreObserver(metrics, logger);
    observer.chargeSettled(0.001, undefined);
    for (let i = 0; i < 50; i++) observer.chargeSettled(0.002, new StoreError("down", { transient: true }));
    observer.chargeSettled(0.001, new StoreError("NOSCRIPT", { transient: false }));
    observer.chargeSettled(0.001, undefined);
    observer.chargeSettled(0.001, undefined);

    expect(lines.map((l) => [l.msg, l.kind ?? l.failedCharges])).toEqual([
      ["counter store charge failed", "transient"],
      ["counter store charges succeed again", 51],
    ]);
    const errors = await metrics.registry.getSingleMetric("sluice_store_errors_total")?.get();
    expect(errors?.values.map((v) => [v.labels.kind, v.value])).toEqual([
      ["transient", 50],
      ["permanent", 1],
    ]);
    const charges = await metrics.registry.getSingleMetric("sluice_store_charge_duration_seconds")?.get();
    expect(charges?.values.find((v) => v.labels.le === "+Inf")?.value).toBe(54);
  });
});
