import { UNIT_SECONDS } from "../policy/units.ts";
import { InvalidRequestError, type RateLimitCall } from "./limiter-types.ts";
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from "./request-limits.ts";

/**
 * Rejects calls the protocol does not allow, with a message naming the offending field.
 *
 * rls.proto requires a non-empty domain, at least one descriptor, at least one entry per descriptor
 * and a non-empty key per entry. It also asks for a non-empty value, but Envoy's own descriptor
 * actions can produce an empty value (e.g. a header present but empty), so an empty value is
 * accepted and matched like any other.
 *
 * An unknown domain is not an error: it simply limits nothing.
 *
 * Sizes are checked against `limits` before anything walks the call, and messages give sizes,
 * never the oversized text itself.
 */
export function validateCall(call: RateLimitCall, limits: RequestLimits = DEFAULT_REQUEST_LIMITS): void {
  if (call.domain === "") throw new InvalidRequestError("domain must not be empty");
  assertBytes("domain", call.domain, limits.maxKeyBytes, "max key bytes");
  if (call.descriptors.length === 0) throw new InvalidRequestError("descriptors must not be empty");
  if (call.descriptors.length > limits.maxDescriptors) {
    throw new InvalidRequestError(
      `descriptors: ${call.descriptors.length} exceed the limit of ${limits.maxDescriptors} descriptors per request`,
    );
  }
  assertCount("hits_addend", call.hitsAddend);
  call.descriptors.forEach((descriptor, i) => {
    const at = `descriptors[${i}]`;
    if (descriptor.entries.length === 0) throw new InvalidRequestError(`${at}.entries must not be empty`);
    if (descriptor.entries.length > limits.maxEntriesPerDescriptor) {
      throw new InvalidRequestError(
        `${at}.entries: ${descriptor.entries.length} exceed the limit of ${limits.maxEntriesPerDescriptor} entries per descriptor`,
      );
    }
    descriptor.entries.forEach((entry, j) => {
      if (entry.key === "") throw new InvalidRequestError(`${at}.entries[${j}].key must not be empty`);
      assertBytes(`${at}.entries[${j}].key`, entry.key, limits.maxKeyBytes, "max key bytes");
      assertBytes(`${at}.entries[${j}].value`, entry.value, limits.maxValueBytes, "max value bytes");
    });
    if (descriptor.hitsAddend !== undefined) assertCount(`${at}.hits_addend`, descriptor.hitsAddend);
    const override = descriptor.limitOverride;
    if (override !== undefined) {
      assertCount(`${at}.limit.requests_per_unit`, override.requestsPerUnit);
      if (!Object.hasOwn(UNIT_SECONDS, override.unit)) {
        throw new InvalidRequestError(`${at}.limit.unit must be a known unit, got "${override.unit}"`);
      }
    }
  });
}

function assertBytes(field: string, text: string, max: number, limitName: string): void {
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short strings need no counting.
  if (text.length * 3 <= max) return;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > max) {
    throw new InvalidRequestError(`${field}: ${bytes} bytes exceed the limit of ${max} (${limitName})`);
  }
}

// The edge maps uint32/uint64 fields, so this only fails on a mapping bug; it keeps NaN and
// fractions out of the window arithmetic all the same.
function assertCount(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidRequestError(`${field} must be a non-negative integer, got ${value}`);
  }
}
