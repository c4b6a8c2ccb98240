import type { RlsClient, RlsRequest } from "./rls-client.ts";
import { callOutcome } from "./steady-load.ts";

/**
 * The `strict` descriptor of test/fixtures/reliability: 4 a minute in every domain there. Five calls
 * with one fresh value show whether the store enforces it: exactly ENFORCED.
 */
export const ENFORCED = ["OK+headers", "OK+headers", "OK+headers", "OK+headers", "OVER_LIMIT+headers"];

export function strictRequest(domain: string, value: string): RlsRequest {
  return { domain, descriptors: [{ entries: [{ key: "strict", value }] }] };
}

/** The outcomes of five `strict` calls with one value (see callOutcome), one after the other. */
export async function strictLimitOutcomes(
  client: RlsClient,
  domain: string,
  value: string,
  timeoutMs = 2_000,
): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < 5; i++)
    outcomes.push(await callOutcome(client, strictRequest(domain, value), timeoutMs));
  return outcomes;
}
