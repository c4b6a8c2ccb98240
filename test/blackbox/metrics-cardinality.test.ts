import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseSeries, scrape } from "../support/metrics-text.ts";
import type { RlsRequest } from "../support/rls-client.ts";
import { useSluice } from "../support/use-sluice.ts";

/** Sluice's own series (process and runtime metrics vary with GC activity, not with traffic). */
function sluiceSeries(text: string): Set<string> {
  return new Set([...parseSeries(text).keys()].filter((series) => series.startsWith("sluice_")));
}

/** One request of each shape the flood sends, with the values the flood varies. */
function shapes(tenant: string, key: string, domain: string): RlsRequest[] {
  return [
    {
      domain: "api",
      descriptors: [
        {
          entries: [
            { key: "tenant", value: tenant },
            { key: "plan", value: "free" },
          ],
        },
      ],
    },
    { domain: "api", descriptors: [{ entries: [{ key: "api_key", value: key }] }] },
    { domain, descriptors: [{ entries: [{ key: "tenant", value: tenant }] }] },
  ];
}

const FLOOD = 10_000;
const CONCURRENCY = 100;

describe("metric cardinality under a flood of distinct request values", () => {
  const suite = useSluice(["--policy", "deploy/policies/api.yaml"]);

  it("10,000 distinct tenant ids, API keys and unknown domains add no new series", async () => {
    for (const request of shapes("warm-up", "warm-up", "warm-up-domain"))
      await suite.client.shouldRateLimit(request);
    const before = sluiceSeries(await scrape(suite.sluice.adminUrl));

    let sent = 0;
    const worker = async () => {
      while (sent < FLOOD) {
        const n = sent++;
        const id = randomUUID();
        const request = shapes(`tenant-${id}`, `key-${id}`, `domain-${id}`)[n % 3] as RlsRequest;
        await suite.client.shouldRateLimit(request);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    const text = await scrape(suite.sluice.adminUrl);
    const after = sluiceSeries(text);
    expect([...after].filter((series) => !before.has(series))).toEqual([]);
    expect(after.size).toBe(before.size);
    // The flood was counted, under the policy's rule ids and the folded unknown domain.
    const requests = parseSeries(text);
    const total = [...requests]
      .filter(([series]) => series.startsWith("sluice_requests_total{"))
      .reduce((sum, [, value]) => sum + value, 0);
    expect(total).toBe(FLOOD + 3);
    expect(requests.get('sluice_requests_total{domain="(unknown)",code="OK"}')).toBeGreaterThan(3_000);
    expect(
      requests.get('sluice_decisions_total{domain="api",rule="free_per_minute",code="OK"}'),
    ).toBeGreaterThan(3_000);
  });
});
