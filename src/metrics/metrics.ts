import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { LeaseEvent } from "../limiter/lease-event.ts";
import type { Decision, RuleOutcome } from "../limiter/limiter-types.ts";
import type { DroppedReleaseReason } from "../store/retried-lease-releases.ts";
import { batchedCounter } from "./batched-counter.ts";
import { batchedHistogram } from "./batched-histogram.ts";

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
  /** Starts timing one ShouldRateLimit call and counts it in flight; call the result when it is answered. */
  startCallTimer(): () => void;
  /** One CounterStore.charge round trip, successful or not, in seconds. */
  observeStoreCharge(seconds: number): void;
  recordStoreError(kind: string): void;
  setStoreUp(up: boolean): void;
  /** A call answered per the failure policy instead of by the store; `reason` says why the store was not asked or not waited for. */
  recordStoreFallback(policy: string, reason: string): void;
  /** Store partitions (Redis nodes) whose circuit breaker is open or probing. */
  setStoreOpenCircuits(store: "counter" | "lease", count: number): void;
  /** Redis nodes holding counters that may evict them (redis-eviction.ts), as last read (eviction-warning.ts). */
  setStoreEvictingNodes(count: number): void;
  /** A decision not sent because the caller had already given up (deadline passed or cancelled). */
  recordAbandonedCall(): void;
  /** Counter slots the memory store dropped to stay within its entry bound. */
  recordMemoryEvictions(count: number): void;
  /** A policy table went live: at start (`reload` false) or by a reload. `atMs` is wall-clock time. */
  recordPolicyLoaded(event: { generation: number; atMs: number; reload: boolean }): void;
  /** A reload was refused; the last good table stays live. */
  recordPolicyReloadFailed(): void;
  /** A call answered from the local over-limit cache instead of the counter store. */
  recordLocalCacheHit(): void;
  /** An entry the local over-limit cache dropped to stay within its size. */
  recordLocalCacheEviction(): void;
  /** Where the local over-limit cache's entry count is read at each scrape. */
  watchLocalCacheEntries(entries: () => number): void;
  /** A concurrency lease taken, refused or freed (concurrency-limiter.ts). */
  recordLeaseEvent(event: LeaseEvent): void;
  /** A failed lease release given up on instead of retried (retried-lease-releases.ts). */
  recordDroppedLeaseRelease(reason: DroppedReleaseReason): void;
  /** One RLQS usage report received (one message of a quota stream). */
  recordQuotaReport(): void;
  /** One RLQS bucket action sent: an assignment by its strategy, or `abandon`. */
  recordQuotaAction(kind: QuotaActionKind): void;
  /** Where the open RLQS streams and the distinct buckets they report are read at each scrape. */
  watchQuotaStreams(counts: () => { readonly streams: number; readonly buckets: number }): void;
}

export type QuotaActionKind = "allow_all" | "deny_all" | "token_bucket" | "abandon";

export type ErrorKind = "invalid_argument" | "unavailable" | "internal";

export interface MetricsOptions {
  /**
   * A rule outcome that passed with at least this fraction of its binding window used counts as
   * near the limit (0 < ratio <= 1).
   */
  readonly nearLimitRatio?: number;
  /** Exported as sluice_build_info, so dashboards can tell which version and Node each instance runs. */
  readonly build?: { readonly version: string; readonly node: string };
}

/** Label used for domains the policy does not define, so unknown domains add one series, not many. */
export const UNKNOWN_DOMAIN_LABEL = "(unknown)";

export const DEFAULT_NEAR_LIMIT_RATIO = 0.8;

// Sub-millisecond to 100 ms: Envoy's rate-limit filter gives up after 20 ms by default, so
// everything that matters sits below that; a store round trip shares the same scale.
const LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

// A queued request waits from a millisecond up to its queue_timeout (at most 60 s).
const QUEUE_WAIT_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const MISNAMED_DEFAULT_METRICS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const nearLimitRatio = options.nearLimitRatio ?? DEFAULT_NEAR_LIMIT_RATIO;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool
  // check metrics rejects them); the per-type `nodejs_active_*{type}` gauges it also exports
  // carry the same information, summed with sum().
  for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  const registers = [registry];

  const requests = batchedCounter({
    name: "sluice_requests_total",
    help: "Answered ShouldRateLimit calls by domain and overall code (what Envoy was told).",
    labelNames: ["domain", "code"] as const,
    registers,
  });
  const decisions = batchedCounter({
    name: "sluice_decisions_total",
    help: "Rule outcomes by domain, matched rule and the rule's own code; shadow rules report the code they would have given.",
    labelNames: ["domain", "rule", "code"] as const,
    registers,
  });
  const shadowOverLimit = batchedCounter({
    name: "sluice_shadow_over_limit_total",
    help: "Outcomes of shadow-mode rules that would have refused the request (it was let through).",
    labelNames: ["domain", "rule"] as const,
    registers,
  });
  const globalShadow = batchedCounter({
    name: "sluice_global_shadow_total",
    help: "Calls refused by the limits but answered OK because the service runs in shadow mode (--shadow-mode, envoyproxy/ratelimit's SHADOW_MODE).",
    labelNames: ["domain"] as const,
    registers,
  });
  const nearLimit = batchedCounter({
    name: "sluice_near_limit_total",
    help: `Rule outcomes that passed with at least ${nearLimitRatio} of the binding window used.`,
    labelNames: ["domain", "rule"] as const,
    registers,
  });
  // envoyproxy/ratelimit's per-rule stats (ratelimit.service.rate_limit.DOMAIN.KEY.<stat>) under the
  // names its default statsd→Prometheus mapping gives them (src/stats/prom/default_mapper.yaml), so
  // dashboards and alerts built on the reference keep working. Hence no `_total`: the names are the
  // mapping's. Counted in hits (hits_addend), as there. Labels come from the rule's key path
  // (MatchedRule.statKey), with request values only under detailed_metric / value_to_metric, as there.
  const referenceStat = (stat: string, what: string) =>
    batchedCounter({
      name: `ratelimit_service_rate_limit_${stat}`,
      help: `envoyproxy/ratelimit's ${stat} stat: ${what}, by domain and rule key path (key1, then the deeper levels joined by '.' in key2).`,
      labelNames: ["domain", "key1", "key2"] as const,
      registers,
    });
  const reference = {
    totalHits: referenceStat("total_hits", "hits charged to the rule"),
    withinLimit: referenceStat("within_limit", "hits the rule let through"),
    nearLimit: referenceStat(
      "near_limit",
      `hits let through with at least ${nearLimitRatio} of the window used`,
    ),
    overLimit: referenceStat("over_limit", "hits over the rule's limit (shadow rules included)"),
    shadowMode: referenceStat("shadow_mode", "hits over a shadow-mode rule's limit, let through"),
  };
  const recordReferenceStats = (outcome: RuleOutcome, statKey: readonly string[]) => {
    const [domain = "", key1 = ""] = statKey;
    const key2 = statKey.length > 3 ? statKey.slice(2).join(".") : (statKey[2] ?? "");
    const hits = outcome.hits ?? 1;
    reference.totalHits.inc(domain, key1, key2, hits);
    if (outcome.code === "OVER_LIMIT") {
      reference.overLimit.inc(domain, key1, key2, hits);
      if (outcome.shadow) reference.shadowMode.inc(domain, key1, key2, hits);
      return;
    }
    reference.withinLimit.inc(domain, key1, key2, hits);
    if (outcome.usedFraction >= nearLimitRatio) reference.nearLimit.inc(domain, key1, key2, hits);
  };
  const errors = new Counter({
    name: "sluice_call_errors_total",
    help: "ShouldRateLimit calls answered with an error status, by kind.",
    labelNames: ["kind"] as const,
    registers,
  });
  const latency = batchedHistogram({
    name: "sluice_should_rate_limit_duration_seconds",
    help: "Time from receiving a ShouldRateLimit call to sending its answer.",
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  // Counted in a plain number per call, read at each scrape.
  let inFlight = 0;
  new Gauge({
    name: "sluice_in_flight_calls",
    help: "ShouldRateLimit calls received and not yet answered.",
    registers,
    collect() {
      this.set(inFlight);
    },
  });
  const storeCharge = batchedHistogram({
    name: "sluice_store_charge_duration_seconds",
    help: "Round trip of one counter store charge (one Redis script call per request or per slot group).",
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const storeErrors = new Counter({
    name: "sluice_store_errors_total",
    help: "Counter store charge failures by kind (transient: may succeed on retry; permanent: will not).",
    labelNames: ["kind"] as const,
    registers,
  });
  const storeUp = new Gauge({
    name: "sluice_store_up",
    help: "1 when the counter store answers, 0 when it does not.",
    registers,
    // With --workers, the primary sums workers' series by default; a state is as good as the worst worker's.
    aggregator: "min",
  });
  const storeFallbacks = new Counter({
    name: "sluice_store_fallbacks_total",
    help: "Calls answered per the failure policy instead of by the counter store, by policy and reason (error, timeout, circuit_open, overloaded).",
    labelNames: ["policy", "reason"] as const,
    registers,
  });
  const storeOpenCircuits = new Gauge({
    name: "sluice_store_open_circuits",
    help: "Redis nodes whose circuit breaker is open or probing, by store (counter: charges; lease: concurrency leases); 0 when all are closed.",
    labelNames: ["store"] as const,
    registers,
  });
  for (const store of ["counter", "lease"]) storeOpenCircuits.set({ store }, 0);
  const storeEvictingNodes = new Gauge({
    name: "sluice_store_evicting_nodes",
    help: "Redis nodes holding counters that may evict them under memory pressure (a maxmemory and a maxmemory-policy other than noeviction), read every minute and when the store comes back; 0 when none.",
    registers,
    // With --workers every worker reads the same nodes: the primary reports one reading, not their sum.
    aggregator: "max",
  });
  const abandonedCalls = new Counter({
    name: "sluice_abandoned_calls_total",
    help: "Decisions not sent because the caller had already given up (deadline passed or call cancelled).",
    registers,
  });
  const memoryEvictions = new Counter({
    name: "sluice_memory_store_evictions_total",
    help: "Counter slots the memory store evicted (least recently charged first) to stay within its entry bound.",
    registers,
  });
  const policyGeneration = new Gauge({
    name: "sluice_policy_generation",
    help: "Number of policy tables that went live since start (1 after the startup load).",
    registers,
    aggregator: "min",
  });
  const reloads = new Counter({
    name: "sluice_policy_reloads_total",
    help: "Policy reload attempts by result (a failed one keeps the last good policy).",
    labelNames: ["result"] as const,
    registers,
  });
  const lastReloadSuccessful = new Gauge({
    name: "sluice_policy_last_reload_successful",
    help: "1 when the most recent policy load or reload succeeded, 0 when it failed.",
    registers,
    aggregator: "min",
  });
  const lastSuccess = new Gauge({
    name: "sluice_policy_last_success_timestamp_seconds",
    help: "Unix time at which the live policy table was loaded.",
    registers,
    aggregator: "min",
  });
  const localCacheHits = new Counter({
    name: "sluice_local_cache_hits_total",
    help: "Calls answered OVER_LIMIT from the local over-limit cache without asking the counter store.",
    registers,
  });
  const localCacheEvictions = new Counter({
    name: "sluice_local_cache_evictions_total",
    help: "Entries the local over-limit cache dropped (least recently used first) to stay within its size.",
    registers,
  });
  let localCacheSize = () => 0;
  new Gauge({
    name: "sluice_local_cache_entries",
    help: "Calls the local over-limit cache holds as known to be over limit.",
    registers,
    collect() {
      this.set(localCacheSize());
    },
  });

  const leasesHeld = new Gauge({
    name: "sluice_concurrency_leases",
    help: "Concurrency leases this instance took minus those it saw released or expire, by policy rule; summed over instances it is the number held.",
    labelNames: ["domain", "rule"] as const,
    registers,
  });
  const queueWait = new Histogram({
    name: "sluice_concurrency_queue_wait_seconds",
    help: "Time a request waited for a concurrency lease after finding its set full, by how the wait ended (granted, timeout, cancelled).",
    labelNames: ["domain", "rule", "outcome"] as const,
    buckets: QUEUE_WAIT_BUCKETS_SECONDS,
    registers,
  });
  const queueTimeouts = new Counter({
    name: "sluice_concurrency_queue_timeouts_total",
    help: "Requests refused because no concurrency lease freed within the queue timeout (at once when it is 0).",
    labelNames: ["domain", "rule"] as const,
    registers,
  });
  const expiredLeases = new Counter({
    name: "sluice_concurrency_expired_leases_total",
    help: "Concurrency leases reclaimed after their lease_ttl because their release never came.",
    labelNames: ["domain", "rule"] as const,
    registers,
  });

  const droppedReleases = new Counter({
    name: "sluice_concurrency_dropped_releases_total",
    help: "Lease releases the store failed to take and that were given up on instead of retried, by reason (full: too many waiting; age: retried past their bound; rejected: refused by the store); each lease stays held until its lease_ttl.",
    labelNames: ["reason"] as const,
    registers,
  });

  const quotaReports = new Counter({
    name: "sluice_rlqs_reports_total",
    help: "Usage reports received from Envoy rate_limit_quota filters (one per message; Envoy 1.40 sends one every 5 s per stream, listing every bucket).",
    registers,
  });
  const quotaActions = new Counter({
    name: "sluice_rlqs_actions_total",
    help: "Bucket actions sent to Envoy rate_limit_quota filters, by kind: the assignment's strategy (allow_all, deny_all, token_bucket) or abandon.",
    labelNames: ["kind"] as const,
    registers,
  });
  let quotaCounts = () => ({ streams: 0, buckets: 0 });
  new Gauge({
    name: "sluice_rlqs_streams",
    help: "Rate Limit Quota Service streams open (one per Envoy and domain).",
    registers,
    collect() {
      this.set(quotaCounts().streams);
    },
  });
  new Gauge({
    name: "sluice_rlqs_buckets",
    help: "Distinct RLQS buckets (domain and bucket id) the open streams report.",
    registers,
    collect() {
      this.set(quotaCounts().buckets);
    },
  });

  if (options.build !== undefined) {
    new Gauge({
      name: "sluice_build_info",
      help: "Always 1; its labels say which Sluice version and which Node.js version this instance runs.",
      labelNames: ["version", "node"] as const,
      registers,
      // With --workers every worker runs the same build: one series, not the sum over workers.
      aggregator: "first",
    }).set(options.build, 1);
  }

  // Known label sets start at 0, so rate() and alerts see a series before the first event.
  for (const reason of ["full", "age", "rejected"]) droppedReleases.inc({ reason }, 0);
  for (const kind of ["allow_all", "deny_all", "token_bucket", "abandon"]) quotaActions.inc({ kind }, 0);
  for (const result of ["success", "failure"]) reloads.inc({ result }, 0);
  for (const kind of ["transient", "permanent"]) storeErrors.inc({ kind }, 0);
  for (const kind of ["invalid_argument", "unavailable", "internal"]) errors.inc({ kind }, 0);

  return {
    registry,
    recordDecision(domain, knownDomain, decision) {
      const domainLabel = knownDomain ? domain : UNKNOWN_DOMAIN_LABEL;
      requests.inc(domainLabel, decision.code);
      if (decision.shadowed) globalShadow.inc(domainLabel);
      for (const outcome of decision.outcomes) {
        decisions.inc(domainLabel, outcome.ruleId, outcome.code);
        if (outcome.shadow && outcome.code === "OVER_LIMIT") shadowOverLimit.inc(domainLabel, outcome.ruleId);
        if (outcome.code === "OK" && outcome.usedFraction >= nearLimitRatio)
          nearLimit.inc(domainLabel, outcome.ruleId);
        if (outcome.statKey !== undefined) recordReferenceStats(outcome, outcome.statKey);
      }
    },
    recordError(kind) {
      errors.inc({ kind });
    },
    startCallTimer() {
      inFlight++;
      const startMs = performance.now();
      return () => {
        latency.observe((performance.now() - startMs) / 1000);
        inFlight--;
      };
    },
    observeStoreCharge(seconds) {
      storeCharge.observe(seconds);
    },
    recordStoreError(kind) {
      storeErrors.inc({ kind });
    },
    setStoreUp(up) {
      storeUp.set(up ? 1 : 0);
    },
    recordStoreFallback(policy, reason) {
      storeFallbacks.inc({ policy, reason });
    },
    setStoreOpenCircuits(store, count) {
      storeOpenCircuits.set({ store }, count);
    },
    setStoreEvictingNodes(count) {
      storeEvictingNodes.set(count);
    },
    recordAbandonedCall() {
      abandonedCalls.inc();
    },
    recordMemoryEvictions(count) {
      memoryEvictions.inc(count);
    },
    recordPolicyLoaded({ generation, atMs, reload }) {
      policyGeneration.set(generation);
      lastSuccess.set(atMs / 1000);
      lastReloadSuccessful.set(1);
      if (reload) reloads.inc({ result: "success" });
    },
    recordPolicyReloadFailed() {
      lastReloadSuccessful.set(0);
      reloads.inc({ result: "failure" });
    },
    recordLocalCacheHit() {
      localCacheHits.inc();
    },
    recordLocalCacheEviction() {
      localCacheEvictions.inc();
    },
    watchLocalCacheEntries(entries) {
      localCacheSize = entries;
    },
    recordLeaseEvent(event) {
      const labels = { domain: event.domain, rule: event.ruleId };
      if (event.kind === "taken") leasesHeld.inc(labels);
      if (event.kind === "freed") {
        if (event.released + event.expired > 0) leasesHeld.dec(labels, event.released + event.expired);
        if (event.expired > 0) expiredLeases.inc(labels, event.expired);
        return;
      }
      if (event.queued) {
        const outcome = event.kind === "taken" ? "granted" : event.reason;
        queueWait.observe({ ...labels, outcome }, event.waitedMs / 1000);
      }
      if (event.kind === "refused" && event.reason === "timeout") queueTimeouts.inc(labels);
    },
    recordDroppedLeaseRelease(reason) {
      droppedReleases.inc({ reason });
    },
    recordQuotaReport() {
      quotaReports.inc();
    },
    recordQuotaAction(kind) {
      quotaActions.inc({ kind });
    },
    watchQuotaStreams(counts) {
      quotaCounts = counts;
    },
  };
}
