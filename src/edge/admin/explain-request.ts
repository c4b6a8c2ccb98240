import { type CallDescriptor, InvalidRequestError, type RateLimitCall } from "../../limiter/limiter-types.ts";
import { RESERVED_LEASE_KEYS } from "../../policy/concurrency-limit.ts";
import type { DescriptorEntry, PolicyTable } from "../../policy/policy-types.ts";
import { parseUnit } from "../../policy/units.ts";

/**
 * The admin's questions as limiter calls. POST /explain takes a ShouldRateLimit request in
 * protobuf's JSON form (the shape `grpcurl -d` takes), field names in camelCase or as in the
 * .proto; GET /usage names one descriptor in its query string. Malformed input throws
 * InvalidRequestError with the offending field; the limiter then checks sizes as for a call.
 */

/** `{ domain, descriptors: [{ entries: [{ key, value }], limit?, hitsAddend? }], hitsAddend? }`. */
export function parseExplainRequest(body: string): RateLimitCall {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidRequestError("body: expected a JSON ShouldRateLimit request");
  }
  const request = object(json, "body");
  const descriptors = request.descriptors;
  if (!Array.isArray(descriptors)) throw new InvalidRequestError("descriptors: expected an array");
  return {
    domain: text(request.domain ?? "", "domain"),
    descriptors: descriptors.map((d, i) => descriptor(d, `descriptors[${i}]`)),
    hitsAddend: count(field(request, "hitsAddend", "hits_addend") ?? 0, "hitsAddend"),
  };
}

/**
 * GET /usage?domain=api&tenant=acme&plan=pro: every parameter after `domain`, in order, is one
 * entry of the descriptor. The call asks about it and about each exact-valued limit the policy
 * sets below it (a plan's route limits), so one page shows all of a tenant's limits; values only a
 * request could name (wildcards, bare keys below) are not guessed.
 */
export function usageCall(query: URLSearchParams, table: PolicyTable): RateLimitCall {
  const domain = query.get("domain") ?? "";
  if (domain === "") throw new InvalidRequestError("domain: expected ?domain=NAME");
  const entries: DescriptorEntry[] = [];
  for (const [key, value] of query) {
    if (key === "domain") continue;
    if (RESERVED_LEASE_KEYS.has(key))
      throw new InvalidRequestError(`${key}: a lease key is not a usage question`);
    entries.push({ key, value });
  }
  if (entries.length === 0)
    throw new InvalidRequestError("expected the descriptor's entries, e.g. &tenant=acme");
  const below = table.explain?.(domain, entries)?.limitedBelow ?? [];
  const descriptors = [entries, ...below.map((more) => [...entries, ...more])];
  return { domain, descriptors: descriptors.map((e) => ({ entries: e })), hitsAddend: 1 };
}

function descriptor(json: unknown, at: string): CallDescriptor {
  const d = object(json, at);
  if (!Array.isArray(d.entries)) throw new InvalidRequestError(`${at}.entries: expected an array`);
  const entries = d.entries.map((e, j): DescriptorEntry => {
    const entry = object(e, `${at}.entries[${j}]`);
    return {
      key: text(entry.key ?? "", `${at}.entries[${j}].key`),
      value: text(entry.value ?? "", `${at}.entries[${j}].value`),
    };
  });
  const hitsAddend = field(d, "hitsAddend", "hits_addend");
  return {
    entries,
    limitOverride: d.limit === undefined ? undefined : override(d.limit, `${at}.limit`),
    hitsAddend: hitsAddend === undefined ? undefined : count(hitsAddend, `${at}.hitsAddend`),
  };
}

function override(json: unknown, at: string): CallDescriptor["limitOverride"] {
  const limit = object(json, at);
  const unit = parseUnit(text(limit.unit ?? "", `${at}.unit`));
  if (unit === undefined) throw new InvalidRequestError(`${at}.unit: expected SECOND, MINUTE, HOUR or DAY…`);
  const requests = field(limit, "requestsPerUnit", "requests_per_unit") ?? 0;
  return { requestsPerUnit: count(requests, `${at}.requestsPerUnit`), unit };
}

function object(json: unknown, at: string): Record<string, unknown> {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new InvalidRequestError(`${at}: expected an object`);
  return json as Record<string, unknown>;
}

function field(json: Record<string, unknown>, camel: string, snake: string): unknown {
  return json[camel] ?? json[snake];
}

function text(json: unknown, at: string): string {
  if (typeof json !== "string") throw new InvalidRequestError(`${at}: expected a string`);
  return json;
}

/** uint32 fields; protobuf's JSON form may carry them as strings. */
function count(json: unknown, at: string): number {
  const n = typeof json === "string" && /^\d+$/.test(json) ? Number(json) : json;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new InvalidRequestError(`${at}: expected a whole number from 0 to 4294967295`);
  return n;
}
