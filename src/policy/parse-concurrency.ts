import {
  type ConcurrencySpec,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_QUEUE_TIMEOUT_MS,
  MAX_LEASE_TTL_MS,
  MAX_QUEUE_TIMEOUT_MS,
  MIN_LEASE_TTL_MS,
} from "./concurrency-limit.ts";
import { keyPath } from "./key-path.ts";
import { formatDuration, parseDuration } from "./parse-duration.ts";
import type { Field, YamlReader } from "./yaml-reader.ts";

const CONCURRENCY_KEYS: ReadonlySet<string> = new Set(["max", "queue_timeout", "lease_ttl", "name"]);

/**
 * Reads a node's `concurrency:` block:
 *
 *   concurrency: { max: 20, queue_timeout: 500ms, lease_ttl: 60s, name: pro_in_flight }
 *
 * `max` is required (at least 1); `queue_timeout` defaults to 0 (refuse at once when full) and may
 * be at most 60s; `lease_ttl` defaults to 60s and must lie between 1s and 24h. Undefined when the
 * block is invalid (errors go to the reader, at their key paths).
 */
export function parseConcurrency(reader: YamlReader, field: Field): ConcurrencySpec | undefined {
  const fields = reader.mapping(field.node, field.path, CONCURRENCY_KEYS);
  if (!fields) return undefined;

  const maxField = fields.get("max");
  let max: number | undefined;
  if (!maxField)
    reader.fail(keyPath(field.path, "max"), "required: how many requests may be in flight at once");
  else {
    max = reader.uint32(maxField);
    if (max === 0) {
      reader.fail(maxField.path, "must be at least 1 (a limit of 0 would refuse every request)");
      max = undefined;
    }
  }
  const queueTimeoutMs = duration(reader, fields.get("queue_timeout"), {
    fallback: DEFAULT_QUEUE_TIMEOUT_MS,
    min: 0,
    max: MAX_QUEUE_TIMEOUT_MS,
  });
  const leaseTtlMs = duration(reader, fields.get("lease_ttl"), {
    fallback: DEFAULT_LEASE_TTL_MS,
    min: MIN_LEASE_TTL_MS,
    max: MAX_LEASE_TTL_MS,
  });
  const nameField = fields.get("name");
  const name = (nameField && reader.string(nameField)) || undefined;

  if (max === undefined || queueTimeoutMs === undefined || leaseTtlMs === undefined) return undefined;
  return { max, queueTimeoutMs, leaseTtlMs, name };
}

function duration(
  reader: YamlReader,
  field: Field | undefined,
  bounds: { fallback: number; min: number; max: number },
): number | undefined {
  if (!field) return bounds.fallback;
  const text = reader.string(field);
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) {
    reader.fail(field.path, `expected a duration with a unit such as 500ms, 60s or 2m, got '${text}'`);
  } else if (ms < bounds.min || ms > bounds.max) {
    reader.fail(
      field.path,
      `must be between ${formatDuration(bounds.min)} and ${formatDuration(bounds.max)}, got ${text}`,
    );
  } else {
    return ms;
  }
  return undefined;
}
