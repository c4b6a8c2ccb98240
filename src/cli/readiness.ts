import type { FailurePolicy } from "../policy/failure-policy.ts";
import type { PolicyTable } from "../policy/policy-types.ts";
import { canAnswer } from "./store-health.ts";

/** What decides whether this instance can answer calls, as last seen. */
export interface InstanceState {
  /** False once shutdown began. */
  readonly accepting: boolean;
  readonly policyLoaded: boolean;
  /** The latest store ping's result; undefined until the first one came back. */
  readonly storeUp: boolean | undefined;
  readonly table: PolicyTable;
  readonly failurePolicy: FailurePolicy;
}

/**
 * Why this instance cannot answer calls now, or undefined when it can. The one answer behind both
 * `/readyz` and gRPC health (grpc.health.v1), so a Kubernetes readiness probe and Envoy's health
 * checks never disagree: an instance whose every call would fail UNAVAILABLE is not ready on
 * either. With the store down it stays ready while some domain answers by its failure policy
 * (canAnswer). Pure.
 */
export function notReadyReason(state: InstanceState): string | undefined {
  if (!state.accepting) return "shutting down";
  if (!state.policyLoaded) return "no policy loaded";
  if (state.storeUp === undefined) return "counter store not checked yet";
  if (!canAnswer(state.storeUp, state.table, state.failurePolicy))
    return "counter store unreachable, and no domain's failure policy answers without it";
  return undefined;
}

export interface Readiness {
  /** Why this instance cannot answer calls now (for /readyz); undefined when it can. */
  notReady(): string | undefined;
  /** A store ping's result; also re-reads the live policy, whose domains decide what still answers. */
  storeChecked(up: boolean): void;
  /** Shutdown began: not ready from now on. */
  stopAccepting(): void;
}

export interface ReadinessOptions {
  readonly policyLoaded: () => boolean;
  readonly policy: () => PolicyTable;
  readonly failurePolicy: FailurePolicy;
  /** Each change of "can answer", the first one included: sets gRPC health. */
  readonly onChange: (ready: boolean, reason: string | undefined) => void;
}

/** Holds the latest store state and shutdown flag, and reports each change of notReadyReason. */
export function trackReadiness({
  policyLoaded,
  policy,
  failurePolicy,
  onChange,
}: ReadinessOptions): Readiness {
  let accepting = true;
  let storeUp: boolean | undefined;
  let ready: boolean | undefined;
  const notReady = () =>
    notReadyReason({ accepting, policyLoaded: policyLoaded(), storeUp, table: policy(), failurePolicy });
  const update = () => {
    const reason = notReady();
    if ((reason === undefined) === ready) return;
    ready = reason === undefined;
    onChange(ready, reason);
  };
  return {
    notReady,
    storeChecked(up) {
      storeUp = up;
      update();
    },
    stopAccepting() {
      accepting = false;
      update();
    },
  };
}
