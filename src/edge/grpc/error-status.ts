import { status } from "@grpc/grpc-js";
import { InvalidRequestError } from "../../limiter/limiter-types.ts";
import type { ErrorKind } from "../../metrics/metrics.ts";
import { StoreError } from "../../store/counter-store.ts";

export interface GrpcErrorStatus {
  readonly code: status;
  readonly details: string;
  /** The metrics label for this failure. */
  readonly kind: ErrorKind;
}

/**
 * The one mapping from a thrown error to a gRPC status.
 *
 * Store failures become UNAVAILABLE rather than an answer: Envoy's rate-limit filter then applies
 * its own `failure_mode_deny`, so the operator — not Sluice — decides whether traffic flows while
 * the counters are unreachable.
 */
export function toGrpcErrorStatus(error: unknown): GrpcErrorStatus {
  if (error instanceof InvalidRequestError) {
    return { code: status.INVALID_ARGUMENT, details: error.message, kind: "invalid_argument" };
  }
  if (error instanceof StoreError) {
    return { code: status.UNAVAILABLE, details: `counter store: ${error.message}`, kind: "unavailable" };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: status.INTERNAL, details: `internal error: ${message}`, kind: "internal" };
}
