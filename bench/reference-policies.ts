import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";

/**
 * The bench policies (deploy/policies, bench/policies) rewritten, at run time, into what
 * envoyproxy/ratelimit accepts: its loader rejects any key it does not know, and it has one window
 * per descriptor node. Nothing of the reference is copied; this only drops what Sluice adds.
 *
 * - `rate_limits` (Sluice: several windows on one node) keeps its first window as `rate_limit`:
 *   the per-minute one in every bench policy. The reference then charges one counter where Sluice
 *   charges two (free, starter and pro plans: minute and day) — less Redis work for the reference,
 *   which the report says under its tables.
 * - `concurrency` (Sluice's leases) is dropped: no bench call asks for a lease.
 * - Any other key the reference does not know is dropped and named in `notes`.
 */

/** Keys envoyproxy/ratelimit's config loader accepts (src/config: its list of valid keys). */
const REFERENCE_KEYS = new Set([
  "domain",
  "key",
  "value",
  "descriptors",
  "rate_limit",
  "unit",
  "requests_per_unit",
  "unlimited",
  "shadow_mode",
  "quota_mode",
  "name",
  "replaces",
  "detailed_metric",
  "value_to_metric",
  "share_threshold",
]);

export interface ReferencePolicies {
  /** File name → YAML text, for `$RUNTIME_ROOT/$RUNTIME_SUBDIRECTORY/config/`. */
  readonly files: Readonly<Record<string, string>>;
  /** What was changed, one line per kind of change, for the report. */
  readonly notes: readonly string[];
}

export async function referencePolicies(dirs: readonly string[]): Promise<ReferencePolicies> {
  const files: Record<string, string> = {};
  const notes = new Set<string>();
  for (const dir of dirs) {
    for (const name of (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort()) {
      const text = await readFile(join(dir, name), "utf8");
      // One domain per file for the reference: a file with several documents becomes several files.
      parseAllDocuments(text).forEach((doc, n) => {
        const spec = doc.toJS() as unknown;
        if (spec === null || spec === undefined) return;
        const file = `${basename(dir)}-${n}-${name.replace(/\.yml$/, ".yaml")}`;
        files[file] = stringify(rewrite(spec, notes));
      });
    }
  }
  return { files, notes: [...notes] };
}

function rewrite(node: unknown, notes: Set<string>): unknown {
  if (Array.isArray(node)) return node.map((n) => rewrite(n, notes));
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "rate_limits" && Array.isArray(value)) {
      if (value.length > 1)
        notes.add("rate_limits: only the first window kept (the reference has one per node)");
      out.rate_limit = rewrite(value[0], notes);
    } else if (key === "concurrency") {
      notes.add("concurrency: dropped (no bench call takes a lease)");
    } else if (!REFERENCE_KEYS.has(key)) {
      notes.add(`${key}: dropped (unknown to the reference)`);
    } else {
      out[key] = rewrite(value, notes);
    }
  }
  return out;
}
