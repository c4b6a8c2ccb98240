import type { CompiledDomain, MatchLevel, MatchNode } from "./match-tree.ts";

/**
 * The live policy as envoyproxy/ratelimit's debug /rlconfig prints it: one line per limit,
 * `DOMAIN.KEY_PATH: unit=MINUTE requests_per_unit=10, shadow_mode: false, quota_mode: false`, the
 * key path in the reference's naming (stat-key.ts). An `unlimited` rule reads `unit=UNKNOWN
 * requests_per_unit=0` as there. Sluice's additions keep that shape: a rule with several windows
 * (`rate_limits`) has a line per window, and a concurrency cap a line of its own. Domains and
 * rules come in file order (the reference's come in Go's map order, i.e. any).
 */
export function dumpDomains(domains: Iterable<CompiledDomain>): string {
  const lines: string[] = [];
  for (const domain of domains) dumpLevel(domain.root, lines);
  return lines.map((line) => `${line}\n`).join("");
}

function dumpLevel(level: MatchLevel, lines: string[]): void {
  for (const node of level.nodes) {
    lines.push(...nodeLines(node));
    if (node.children) dumpLevel(node.children, lines);
  }
}

function nodeLines(node: MatchNode): string[] {
  const key = node.referencePath.join(".");
  const modes = `shadow_mode: ${node.shadowMode}, quota_mode: ${node.quotaMode}`;
  const windows = node.unlimited
    ? [`${key}: unit=UNKNOWN requests_per_unit=0, ${modes}`]
    : node.windows.map(
        (w) => `${key}: unit=${w.unit.toUpperCase()} requests_per_unit=${w.requestsPerUnit}, ${modes}`,
      );
  const cap = node.concurrency;
  if (cap === undefined) return windows;
  return [
    ...windows,
    `${key}: concurrency max=${cap.max} queue_timeout_ms=${cap.queueTimeoutMs} lease_ttl_ms=${cap.leaseTtlMs}`,
  ];
}
