import { RESERVED_LEASE_KEYS } from "./concurrency-limit.ts";
import { keyPath } from "./key-path.ts";
import { parseConcurrency } from "./parse-concurrency.ts";
import { parseLimit } from "./parse-limit.ts";
import type { DescriptorSpec } from "./policy-spec.ts";
import type { Field, YamlReader } from "./yaml-reader.ts";

/**
 * Deepest descriptor nesting a policy may use. Envoy sends a handful of entries per descriptor;
 * the cap keeps a hostile file (or an alias that nests a list inside itself) from recursing
 * without end.
 */
export const MAX_DESCRIPTOR_DEPTH = 32;

const DESCRIPTOR_KEYS: ReadonlySet<string> = new Set([
  "key",
  "value",
  "rate_limit",
  "rate_limits",
  "descriptors",
  "shadow_mode",
  "quota_mode",
  "detailed_metric",
  "value_to_metric",
  "share_threshold",
  "count_rejected",
  "metadata",
  "concurrency",
]);

/**
 * Reads a `descriptors` list (depth 1 is the file's top level). Siblings must differ: two nodes
 * with the same key and value, or the same bare key, would make matching depend on file order.
 */
export function parseDescriptors(reader: YamlReader, field: Field, depth: number): DescriptorSpec[] {
  const specs: DescriptorSpec[] = [];
  const firstAt = new Map<string, string>();
  for (const item of reader.list(field) ?? []) {
    const spec = parseDescriptor(reader, item, depth);
    if (!spec) continue;
    const label = spec.value === undefined ? `'${spec.key}'` : `'${spec.key}=${spec.value}'`;
    const identity = JSON.stringify([spec.key, spec.value ?? null]);
    const first = firstAt.get(identity);
    if (first !== undefined) {
      reader.fail(item.path, `duplicate descriptor ${label} (already at ${first})`);
      continue;
    }
    firstAt.set(identity, item.path);
    specs.push(spec);
  }
  return specs;
}

function parseDescriptor(reader: YamlReader, item: Field, depth: number): DescriptorSpec | undefined {
  const fields = reader.mapping(item.node, item.path, DESCRIPTOR_KEYS);
  if (!fields) return undefined;

  const keyField = fields.get("key");
  const key = keyField && reader.string(keyField);
  if (!keyField) reader.fail(keyPath(item.path, "key"), "required");
  else if (key === "") reader.fail(keyField.path, "must not be empty");
  // The matcher indexes nodes by `key NUL value`; a NUL inside a key would make that ambiguous.
  else if (key?.includes("\0")) reader.fail(keyField.path, "must not contain a NUL character");
  else if (key !== undefined && RESERVED_LEASE_KEYS.has(key)) {
    reader.fail(keyField.path, `'${key}' is reserved for concurrency leases and cannot be a policy key`);
  }

  const valueField = fields.get("value");
  // An empty value is a bare key, as in the reference service.
  const value = (valueField && reader.string(valueField)) || undefined;

  const flag = (name: string, fallback: boolean): boolean => {
    const flagField = fields.get(name);
    return (flagField && reader.boolean(flagField)) ?? fallback;
  };
  const shareThreshold = flag("share_threshold", false);
  if (shareThreshold && value === undefined && key?.endsWith("*")) {
    // The reference checks that `key_value`, or the key alone, ends in '*', so it loads this.
    reader.warn(
      keyPath(item.path, "share_threshold"),
      `on key '${key}' without a value; loaded as envoyproxy/ratelimit loads it, but Sluice matches keys literally and shares counters only across a wildcard value, so this rule counts entries whose key is exactly '${key}' (write key: ${key.slice(0, -1)}, value: '*' for a shared counter)`,
    );
  } else if (shareThreshold && !value?.includes("*")) {
    reader.fail(
      keyPath(item.path, "share_threshold"),
      "needs a wildcard value (one containing '*') to share a counter across",
    );
  }
  const hasLimit = fields.has("rate_limit") || fields.has("rate_limits");
  const countRejected = fields.get("count_rejected");
  if (countRejected && !hasLimit) {
    reader.fail(countRejected.path, "only allowed on a descriptor with rate_limit or rate_limits");
  }
  const metadata = fields.get("metadata");
  if (metadata) reader.expectMapping(metadata);
  const concurrencyField = fields.get("concurrency");

  const spec: DescriptorSpec = {
    path: item.path,
    key: key ?? "",
    value,
    limit: parseLimit(reader, fields),
    shadowMode: flag("shadow_mode", false),
    quotaMode: flag("quota_mode", false),
    detailedMetric: flag("detailed_metric", false),
    valueToMetric: flag("value_to_metric", false),
    shareThreshold,
    countRejected: flag("count_rejected", true),
    concurrency: concurrencyField && parseConcurrency(reader, concurrencyField),
    children: parseChildren(reader, fields.get("descriptors"), depth),
  };
  // Shadow and quota modes say how failing rate windows refuse; a full lease set has no such
  // reading, so the combination is refused rather than guessed at.
  const mode = spec.shadowMode ? "shadow_mode" : spec.quotaMode ? "quota_mode" : undefined;
  if (concurrencyField && mode) {
    reader.fail(concurrencyField.path, `cannot be combined with ${mode} on one descriptor`);
  }
  return key ? spec : undefined;
}

function parseChildren(reader: YamlReader, field: Field | undefined, depth: number): DescriptorSpec[] {
  if (!field) return [];
  if (depth < MAX_DESCRIPTOR_DEPTH) return parseDescriptors(reader, field, depth + 1);
  const items = reader.list(field);
  if (items && items.length > 0) {
    reader.fail(field.path, `descriptors nested deeper than ${MAX_DESCRIPTOR_DEPTH} levels`);
  }
  return [];
}
