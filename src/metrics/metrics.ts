import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Decision } from "../limiter/limiter-types.ts";

/**
 * Every metric Sluice exports, in one place: no metric name appears anywhere else.
 * Label values come from the policy (domain names, rule ids), never from raw request values,
 * so series are bounded by the policy, not by traffic.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Records one answered ShouldRateLimit call. `knownDomain` false folds the domain label. */
  recordDecision(domain: string, knownDomain: boolean, decision: Decision): void;
  /** Records a call that ended in an error status (invalid request, store failure). */
  recordError(kind: ErrorKind): void;
  /** Starts the ShouldRateLimit latency timer; call the result when the answer is sent. */
  startCallTimer(): () => void;
  recordStoreError(kind: string): void;
  setStoreUp(up: boolean): void;
}

export type ErrorKind = "invalid_argument" | "unavailable" | "internal";

/** Label used for domains the policy does not define, so unknown domains add one series, not many. */
export const UNKNOWN_DOMAIN_LABEL = "(unknown)";

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const decisions = new Counter({
    name: "sluice_decisions_total",
    help: "ShouldRateLimit answers by domain and overall code.",
    labelNames: ["domain", "code"] as const,
    registers: [registry],
  });
  const ruleDecisions = new Counter({
    name: "sluice_rule_decisions_total",
    help: "Per matched rule outcomes by domain, rule and code (shadow rules report their would-be code).",
    labelNames: ["domain", "rule", "code", "shadow"] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: "sluice_call_errors_total",
    help: "ShouldRateLimit calls answered with an error status, by kind.",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "sluice_should_rate_limit_duration_seconds",
    help: "Time from receiving a ShouldRateLimit call to sending its answer.",
    // Sub-millisecond to 100 ms: Envoy's filter waits 20 ms by default.
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: "sluice_store_errors_total",
    help: "Counter store failures by kind.",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  const storeUp = new Gauge({
    name: "sluice_store_up",
    help: "1 when the counter store answers, 0 when it does not.",
    registers: [registry],
  });

  return {
    registry,
    recordDecision(domain, knownDomain, decision) {
      const domainLabel = knownDomain ? domain : UNKNOWN_DOMAIN_LABEL;
      decisions.inc({ domain: domainLabel, code: decision.code });
      for (const outcome of decision.outcomes) {
        ruleDecisions.inc({
          domain: domainLabel,
          rule: outcome.ruleId,
          code: outcome.code,
          shadow: String(outcome.shadow),
        });
      }
    },
    recordError(kind) {
      errors.inc({ kind });
    },
    startCallTimer() {
      return latency.startTimer();
    },
    recordStoreError(kind) {
      storeErrors.inc({ kind });
    },
    setStoreUp(up) {
      storeUp.set(up ? 1 : 0);
    },
  };
}
