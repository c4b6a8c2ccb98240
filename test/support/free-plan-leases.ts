import type { RlsClient, RlsRequest } from "./rls-client.ts";
import { callOutcome } from "./steady-load.ts";

/**
 * Lease calls for test/fixtures/concurrency, whose Free plan (domain `api`) holds one lease per tenant
 * and queues a second request for 300 ms.
 */
export function freePlanLease(
  tenant: string,
  kind: "lease_acquire" | "lease_release",
  id: string,
): RlsRequest {
  return {
    domain: "api",
    descriptors: [
      {
        entries: [
          { key: "tenant", value: tenant },
          { key: "plan", value: "free" },
          { key: kind, value: id },
        ],
      },
    ],
  };
}

/** What a working lease store answers to freePlanLeaseRound. */
export const LEASE_ROUND = ["OK", "OVER_LIMIT", "OK", "OK"];

/**
 * The holder gets the lease, a second request waits its 300 ms queue and is refused, the release
 * frees the lease, and the second then gets it: the overall codes, headers or not.
 */
export async function freePlanLeaseRound(
  client: RlsClient,
  tenant: string,
  timeoutMs = 2_000,
): Promise<string[]> {
  const outcome = async (request: RlsRequest) =>
    (await callOutcome(client, request, timeoutMs)).replace("+headers", "");
  return [
    await outcome(freePlanLease(tenant, "lease_acquire", "first")),
    await outcome(freePlanLease(tenant, "lease_acquire", "second")),
    await outcome(freePlanLease(tenant, "lease_release", "first")),
    await outcome(freePlanLease(tenant, "lease_acquire", "second")),
  ];
}
