import type { Decision, DescriptorStatus, Header } from "../../limiter/limiter-types.ts";

/**
 * A decision as envoyproxy/ratelimit's POST /json answers it: the RateLimitResponse in protobuf's
 * JSON mapping (protojson), e.g. `{"overallCode":"OK","statuses":[{"code":"OK","currentLimit":
 * {"requestsPerUnit":10,"unit":"MINUTE"},"limitRemaining":9,"durationUntilReset":"59s"}]}`.
 * As protojson does, fields at their zero value are left out (a remaining of 0, an unnamed limit),
 * enums are their names, bytes are base64 and a Duration is seconds with a fraction when needed.
 */
export function rateLimitResponseJson(decision: Decision): Record<string, unknown> {
  const json: Record<string, unknown> = { overallCode: decision.code };
  if (decision.statuses.length > 0) json.statuses = decision.statuses.map(statusJson);
  if (decision.responseHeaders.length > 0)
    json.responseHeadersToAdd = decision.responseHeaders.map(headerJson);
  if (decision.requestHeaders.length > 0) json.requestHeadersToAdd = decision.requestHeaders.map(headerJson);
  if (decision.body !== undefined && decision.body.length > 0) {
    json.rawBody = Buffer.from(decision.body).toString("base64");
  }
  return json;
}

function statusJson(status: DescriptorStatus): Record<string, unknown> {
  const json: Record<string, unknown> = { code: status.code };
  const limit = status.currentLimit;
  if (limit !== undefined) {
    json.currentLimit = withoutZeros({
      requestsPerUnit: limit.requestsPerUnit,
      unit: limit.unit.toUpperCase(),
      name: limit.name ?? "",
    });
  }
  if (status.limitRemaining !== 0) json.limitRemaining = status.limitRemaining;
  if (status.durationUntilResetMs !== undefined)
    json.durationUntilReset = durationJson(status.durationUntilResetMs);
  return json;
}

function headerJson(header: Header): Record<string, unknown> {
  return withoutZeros({ key: header.key, value: header.value });
}

/** google.protobuf.Duration's JSON form: `59s`, or `1.250s` for a part of a second (milliseconds here). */
export function durationJson(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  const seconds = Math.floor(whole / 1000);
  const millis = whole % 1000;
  return millis === 0 ? `${seconds}s` : `${seconds}.${String(millis).padStart(3, "0")}s`;
}

function withoutZeros(fields: Record<string, string | number>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== 0 && value !== ""));
}
