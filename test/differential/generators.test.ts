import { describe, expect, it } from "vitest";
import type { RlsRequest } from "../support/rls-client.ts";
import { domainYaml, type GeneratedNode, generateDomains } from "./policy-generator.ts";
import { generateStream } from "./request-stream.ts";
import { seededRandom } from "./seeded-random.ts";

// The differential test leaves known differences out by construction; these are the constructions,
// checked over many seeds without starting anything.

const SEEDS = Array.from({ length: 100 }, (_, i) => i + 1);

function generate(seed: number, checkOnly: boolean) {
  const random = seededRandom(seed);
  const minLimit = checkOnly ? 4 : 1;
  const domains = generateDomains(random, { minLimit });
  const stream = generateStream(random, domains, { requests: 200, checkOnly, minLimit });
  return { domains, stream, minLimit };
}

function nodes(list: readonly GeneratedNode[]): GeneratedNode[] {
  return list.flatMap((n) => [n, ...nodes(n.children)]);
}

function texts(request: RlsRequest): string[] {
  return [request.domain, ...request.descriptors.flatMap((d) => d.entries.flatMap((e) => [e.key, e.value]))];
}

describe("differential generators", () => {
  it("give the same policies and calls for the same seed", () => {
    const a = generate(7, false);
    const b = generate(7, false);
    expect(a.domains.map(domainYaml)).toEqual(b.domains.map(domainYaml));
    expect(a.stream).toEqual(b.stream);
  });

  it.each([false, true])("keep keys and values apart and patterns trailing (check-only %s)", (checkOnly) => {
    const wrong: string[] = [];
    for (const seed of SEEDS) {
      const { domains, stream } = generate(seed, checkOnly);
      for (const node of domains.flatMap((d) => nodes(d.nodes))) {
        if (/[_*]/.test(node.key) || /_|\*./.test(node.value ?? ""))
          wrong.push(`seed ${seed}: rule ${node.key}=${node.value}`);
      }
      for (const request of stream) {
        if (texts(request).some((t) => t.includes("_")))
          wrong.push(`seed ${seed}: ${JSON.stringify(request)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("give quota_mode rules ordinary limits, so streams take some of them over", () => {
    const limits = SEEDS.flatMap((seed) => nodes(generate(seed, false).domains.flatMap((d) => d.nodes)))
      .filter((n) => n.quotaMode && !n.shadowMode)
      .flatMap((n) => (n.limit?.kind === "window" ? [n.limit.rpu] : []));
    expect(limits.length).toBeGreaterThan(0);
    expect(Math.max(...limits)).toBeLessThanOrEqual(1 + 12);
  });

  it("give each counter one limit and unit, or never charge more than the smallest limit", () => {
    const wrong: string[] = [];
    for (const seed of SEEDS) {
      for (const checkOnly of [false, true]) {
        const { stream, minLimit } = generate(seed, checkOnly);
        const overrides = new Map<string, string>();
        for (const request of stream) {
          const perDescriptor = Math.max(1, request.hits_addend ?? 0);
          const hits = request.descriptors.map((d) => d.hits_addend?.value ?? perDescriptor);
          const total = hits.reduce((a, b) => a + b, 0);
          if (checkOnly ? total > minLimit : hits.includes(0))
            wrong.push(`seed ${seed}: hits ${JSON.stringify(request)}`);
          for (const d of request.descriptors) {
            if (d.limit === undefined) continue;
            const id = JSON.stringify([request.domain, d.entries]);
            const shape = checkOnly ? d.limit.unit : `${d.limit.unit}/${d.limit.requests_per_unit}`;
            if (d.limit.unit === "SECOND" || (overrides.get(id) ?? shape) !== shape) {
              wrong.push(`seed ${seed}: override ${shape} after ${overrides.get(id)} on ${id}`);
            }
            overrides.set(id, shape);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
