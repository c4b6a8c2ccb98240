import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { batchedCounter } from "./batched-counter.ts";

async function series(registry: Registry, name: string) {
  const metric = await registry.getSingleMetric(name)?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [JSON.stringify(v.labels), v.value]));
}

describe("batchedCounter", () => {
  it("exports each label set's total when the registry is read, and keeps counting after", async () => {
    const registry = new Registry();
    const counter = batchedCounter({
      name: "t_total",
      help: "test",
      labelNames: ["domain", "rule", "code"],
      registers: [registry],
    });
    counter.inc("api", "free", "OK");
    counter.inc("api", "free", "OK");
    counter.inc("api", "free", "OVER_LIMIT");
    counter.inc("api", "pro", "OK", 5);
    expect(await series(registry, "t_total")).toEqual({
      '{"domain":"api","rule":"free","code":"OK"}': 2,
      '{"domain":"api","rule":"free","code":"OVER_LIMIT"}': 1,
      '{"domain":"api","rule":"pro","code":"OK"}': 5,
    });
    counter.inc("api", "free", "OK");
    expect(await series(registry, "t_total")).toMatchObject({
      '{"domain":"api","rule":"free","code":"OK"}': 3,
    });
    expect(await registry.metrics()).toContain('t_total{domain="api",rule="free",code="OK"} 3');
  });

  it("adds label values that differ only in lone surrogates into one well-formed series", async () => {
    const registry = new Registry();
    const counter = batchedCounter({
      name: "w_total",
      help: "t",
      labelNames: ["rule"],
      registers: [registry],
    });
    counter.inc("to_number=\udcff");
    counter.inc("to_number=\udcfe", undefined, undefined, 2);
    expect(await series(registry, "w_total")).toEqual({ '{"rule":"to_number=\ufffd"}': 3 });
  });

  it("works with one and two labels", async () => {
    const registry = new Registry();
    const one = batchedCounter({ name: "one_total", help: "t", labelNames: ["kind"], registers: [registry] });
    const two = batchedCounter({
      name: "two_total",
      help: "t",
      labelNames: ["domain", "code"],
      registers: [registry],
    });
    one.inc("a");
    one.inc("b");
    one.inc("a");
    two.inc("d", "OK");
    two.inc("d", "OK");
    expect(await series(registry, "one_total")).toEqual({ '{"kind":"a"}': 2, '{"kind":"b"}': 1 });
    expect(await series(registry, "two_total")).toEqual({ '{"domain":"d","code":"OK"}': 2 });
  });

  it("refuses a label count it does not handle", () => {
    expect(() =>
      batchedCounter({ name: "none_total", help: "t", labelNames: [], registers: [new Registry()] }),
    ).toThrow("1 to 3 labels");
  });
});
