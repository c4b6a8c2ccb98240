import { LEASE_ACQUIRE_KEY, RESERVED_LEASE_KEYS } from "../policy/concurrency-limit.ts";
import type { DescriptorEntry } from "../policy/policy-types.ts";
import { type CallDescriptor, InvalidRequestError, type RateLimitCall } from "./limiter-types.ts";

/**
 * A descriptor that takes or gives back a concurrency lease: its last entry is `lease_acquire` or
 * `lease_release` with the lease id (Envoy's `x-request-id`) as value, and the entries before it
 * name the policy node whose `concurrency` applies, e.g.
 *
 *   (tenant=acme, plan=pro, lease_acquire=6f1c…)   sent when the request starts
 *   (tenant=acme, plan=pro, lease_release=6f1c…)   sent by `apply_on_stream_done` when it ends
 */
export interface LeaseDescriptor {
  /** Position in the call's descriptors. */
  readonly index: number;
  readonly action: "acquire" | "release";
  /** The entries before the lease entry: what is matched against the policy. */
  readonly entries: readonly DescriptorEntry[];
  readonly leaseId: string;
}

/** An ordinary (rate) descriptor and its position in the call. */
export interface RateDescriptor {
  readonly index: number;
  readonly descriptor: CallDescriptor;
}

export interface SplitCall {
  readonly rate: readonly RateDescriptor[];
  readonly leases: readonly LeaseDescriptor[];
}

/** Whether any descriptor uses a lease key; calls without one take the plain rate path. */
export function hasLeaseEntries(call: RateLimitCall): boolean {
  return call.descriptors.some((d) => d.entries.some((e) => RESERVED_LEASE_KEYS.has(e.key)));
}

/**
 * Separates lease descriptors from rate descriptors, rejecting lease entries Sluice cannot read:
 * one that is not the last entry, one with nothing before it to match, an empty lease id, or a
 * limit override (a lease has no window to override). Pure.
 */
export function splitLeaseDescriptors(call: RateLimitCall): SplitCall {
  const rate: RateDescriptor[] = [];
  const leases: LeaseDescriptor[] = [];
  call.descriptors.forEach((descriptor, index) => {
    const at = `descriptors[${index}]`;
    const position = descriptor.entries.findIndex((e) => RESERVED_LEASE_KEYS.has(e.key));
    if (position === -1) {
      rate.push({ index, descriptor });
      return;
    }
    const entry = descriptor.entries[position] as DescriptorEntry;
    const field = `${at}.entries[${position}]`;
    if (position !== descriptor.entries.length - 1) {
      throw new InvalidRequestError(`${field}: '${entry.key}' must be the last entry of its descriptor`);
    }
    if (position === 0) {
      throw new InvalidRequestError(
        `${field}: '${entry.key}' needs entries before it naming the limited descriptor (e.g. tenant)`,
      );
    }
    if (entry.value === "") {
      throw new InvalidRequestError(`${field}.value: the lease id (the request id) must not be empty`);
    }
    if (descriptor.limitOverride !== undefined) {
      throw new InvalidRequestError(`${at}.limit: a lease descriptor cannot carry a limit override`);
    }
    leases.push({
      index,
      action: entry.key === LEASE_ACQUIRE_KEY ? "acquire" : "release",
      entries: descriptor.entries.slice(0, position),
      leaseId: entry.value,
    });
  });
  return { rate, leases };
}
