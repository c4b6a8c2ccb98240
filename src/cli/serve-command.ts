import cluster from "node:cluster";
import { systemClock } from "../clock.ts";
import { startAdminServer } from "../edge/admin/admin-server.ts";
import { answerAdminQuestions } from "../edge/admin/answer-admin-questions.ts";
import { questionRoute } from "../edge/admin/question-route.ts";
import { startGrpcServer } from "../edge/grpc/grpc-server.ts";
import type { DecideOptions } from "../limiter/decide.ts";
import { createExplainer } from "../limiter/explain-call.ts";
import { createRateLimiter } from "../limiter/rate-limiter.ts";
import { startRefusedHitsFlush } from "../limiter/refused-hits.ts";
import { shadowEveryDecision } from "../limiter/shadow-every-decision.ts";
import { createLogger } from "../log/logger.ts";
import { createMetrics } from "../metrics/metrics.ts";
import { loadPolicies } from "../policy/load-policies.ts";
import { formatPolicyError } from "../policy/policy-types.ts";
import { parseSettings, type Settings } from "../settings/settings.ts";
import { type CounterStoreSettings, createCounterStore } from "../store/create-counter-store.ts";
import { instrumentCounterStore } from "../store/instrument-counter-store.ts";
import { RedisCounterStore } from "../store/redis-counter-store.ts";
import { superviseWorkers } from "./cluster-primary.ts";
import { answerPrimary } from "./cluster-questions.ts";
import { joinPrimary } from "./cluster-worker.ts";
import { addConcurrencyLimits } from "./concurrency-limits.ts";
import { connectionErrorLog } from "./connection-error-log.ts";
import { watchRedisEviction } from "./eviction-warning.ts";
import { fastPathOptions, REFUSED_HITS_FLUSH_MS } from "./fast-path-options.ts";
import { listenOn, reportNotListening } from "./listen-on.ts";
import { startLivePolicy } from "./live-policy.ts";
import { logSettingNotices } from "./log-setting-notices.ts";
import { memoryStoreOptions } from "./memory-store-options.ts";
import { protectCounterStore } from "./protect-counter-store.ts";
import { createQuotaService } from "./quota-service.ts";
import { readRedisTlsCa } from "./read-redis-tls-ca.ts";
import { trackReadiness } from "./readiness.ts";
import { reportServing } from "./serving-report.ts";
import { startTls } from "./start-tls.ts";
import { storeFallbackOptions } from "./store-fallback-options.ts";
import { watchStoreHealth } from "./store-health.ts";
import { createStoreObserver } from "./store-observer.ts";
import { tuneV8ForServing } from "./v8-tuning.ts";
import { VERSION } from "./version.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** `sluice serve`: the composition root. It wires the parts; it does not contain them. */
export async function serveCommand(argv: readonly string[], env: Env): Promise<number> {
  const parsed = parseSettings(argv, env);
  if (!parsed.ok) {
    for (const error of parsed.errors) process.stderr.write(`sluice serve: ${error}\n`);
    process.stderr.write("run 'sluice serve --help' for the flags\n");
    return 2;
  }
  const settings = parsed.settings;
  tuneV8ForServing();
  const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
  // Once per instance: workers parse the same settings again.
  if (cluster.isPrimary) logSettingNotices(parsed.notices, logger);

  const loaded = await loadPolicies(settings.policyPaths, { mergeDomains: settings.mergeDomainConfig });
  if (!loaded.ok) {
    for (const error of loaded.errors) process.stderr.write(`sluice serve: ${formatPolicyError(error)}\n`);
    logger.error({ errors: loaded.errors.length }, "policy failed to load; not starting");
    return 1;
  }
  const redisCa = readRedisTlsCa(settings.redisTlsCa);
  if (!redisCa.ok) {
    process.stderr.write(`sluice serve: ${redisCa.error}\n`);
    return 1;
  }
  const tls = settings.tls && startTls(settings.tls, logger);
  if (tls?.ok === false) {
    process.stderr.write(`sluice serve: ${tls.error}\n`);
    logger.error({ err: tls.error }, "TLS certificates unusable; not starting");
    return 1;
  }
  // --workers N: this process supervises N copies of itself on one port (cluster-primary.ts).
  if (settings.workers > 1 && cluster.isPrimary) {
    tls?.close();
    return superviseWorkers({
      settings,
      logger,
      reportServing: ({ grpcPort, adminPort }) =>
        reportServing(logger, settings.logFormat, {
          grpc: { host: settings.grpcAddr.host, port: grpcPort },
          admin: { host: settings.adminAddr.host, port: adminPort },
          settings,
          domains: [...loaded.table.domains.keys()],
        }),
    });
  }
  const metrics = createMetrics({
    nearLimitRatio: settings.nearLimitRatio,
    build: { version: VERSION, node: process.version },
  });
  const worker = joinPrimary(metrics);
  // Watches the policy paths and SIGHUP; `policy()` always returns the last good table.
  const livePolicy = await startLivePolicy({
    paths: settings.policyPaths,
    initial: loaded.table,
    initialWarnings: loaded.warnings,
    mergeDomains: settings.mergeDomainConfig,
    metrics,
    logger,
  });
  const policy = livePolicy.policy;
  const backend = createCounterStore(
    { ...storeSettings(settings, redisCa.ca), memory: memoryStoreOptions(settings, metrics) },
    systemClock,
    {
      // A backstop behind the guard's own timeout, so replies already read are never thrown away.
      commandTimeoutMs: 2 * settings.storeTimeoutMs,
      onError: connectionErrorLog(logger),
    },
  );
  // Guard outermost: calls it sheds or answers by the failure policy never reach the instrumentation.
  const store = protectCounterStore(
    backend,
    instrumentCounterStore(backend, createStoreObserver(metrics, logger)),
    {
      timeoutMs: settings.storeTimeoutMs,
      maxInFlight: settings.storeMaxInFlight,
      metrics,
      logger,
    },
  );
  const fallback = storeFallbackOptions(settings, metrics);
  const { refusedHits, ...fastPath } = fastPathOptions(settings, metrics);
  const refusedHitsFlush =
    refusedHits &&
    startRefusedHitsFlush({
      hits: refusedHits,
      store,
      intervalMs: REFUSED_HITS_FLUSH_MS,
      onDropped: (slots, err) =>
        logger.warn({ slots, err }, "refused hits answered locally not counted in the store"),
    });
  const limiter = createRateLimiter({
    policy,
    store,
    headerStyle: settings.headerStyle,
    upstreamHeaders: settings.upstreamHeaders,
    headerNames: settings.headerNames,
    ...fastPath,
    limits: settings.requestLimits,
    ...fallback,
  });
  // Calls carrying lease entries also take concurrency leases, kept where the counters are.
  const concurrency = addConcurrencyLimits(limiter, {
    storeSettings: storeSettings(settings, redisCa.ca),
    storeTimeoutMs: settings.storeTimeoutMs,
    storeMaxInFlight: settings.storeMaxInFlight,
    fallback,
    policy,
    store,
    decideOptions: decideOptions(settings),
    limits: settings.requestLimits,
    metrics,
    logger,
  });
  // `sluice explain`, /explain and /usage: the limiter's plan and arithmetic, the store only peeked
  // at, leases only counted.
  const explainer = createExplainer({
    policy,
    store,
    counterKey: fastPath.counterKey,
    decideOptions: decideOptions(settings),
    limits: settings.requestLimits,
    clock: systemClock,
    leasesHeld: concurrency.leasesHeld,
  });

  // RLQS: the same policy, counters and failure policy as RLS, served on the same gRPC port.
  const quota = createQuotaService({
    policy,
    store,
    counterKey: fastPath.counterKey,
    ...fallback,
    shadowMode: settings.shadowMode,
    metrics,
    logger,
  });
  livePolicy.onReloaded(quota.policyReloaded);

  // Everything started before the servers listen: closed after them at shutdown, or alone when
  // one of them cannot listen.
  const closeCore = async () => {
    livePolicy.close();
    tls?.close();
    await concurrency.close();
    await refusedHitsFlush?.close();
    await store.close();
    await fallback.local.store.close();
  };
  const notListening = async (error: string) => {
    reportNotListening(error, logger);
    await closeCore();
    worker?.leave();
    return 1;
  };

  // SHADOW_MODE: one wrapper around everything that decides (gRPC and POST /json), so nothing is refused.
  const deciding = settings.shadowMode ? shadowEveryDecision(concurrency.limiter) : concurrency.limiter;
  const grpcListening = await listenOn("grpcAddr", settings.grpcAddr, (addr) =>
    startGrpcServer(addr, {
      limiter: deciding,
      policy,
      metrics,
      maxMessageBytes: settings.maxMessageBytes,
      credentials: tls?.credentials,
      quota: quota.service,
    }),
  );
  if (!grpcListening.ok) return notListening(grpcListening.error);
  const grpc = grpcListening.server;
  // One answer to "can this instance answer calls" for gRPC health and /readyz alike.
  const readiness = trackReadiness({
    policyLoaded: livePolicy.loaded,
    policy,
    failurePolicy: settings.failurePolicy,
    onChange(ready, reason) {
      grpc.setServing(ready);
      worker?.reportReadiness(reason);
    },
  });
  // /explain, /usage, and envoyproxy/ratelimit's POST /json and /rlconfig, /json deciding through
  // the gRPC limiter. Under --workers the primary serves the admin port and asks a worker.
  const answerQuestions = answerAdminQuestions({ explainer, limiter: deciding, policy, metrics });
  if (worker) answerPrimary(answerQuestions);
  const adminListening = worker
    ? { ok: true as const, server: worker.admin() }
    : await listenOn("adminAddr", settings.adminAddr, (addr) =>
        startAdminServer(addr, {
          metrics,
          state: { notReady: readiness.notReady },
          routes: [questionRoute(answerQuestions)],
        }),
      );
  if (!adminListening.ok) {
    await grpc.shutdown(0);
    return notListening(adminListening.error);
  }
  const admin = adminListening.server;
  const eviction =
    backend instanceof RedisCounterStore
      ? watchRedisEviction(() => backend.evictionSettings(), logger, metrics)
      : undefined;
  const health = watchStoreHealth(store, {
    onChange(up) {
      metrics.setStoreUp(up);
      logger.info({ storeUp: up }, up ? "counter store answers" : "counter store unreachable");
      // At every return: after a failover or a restart the node may be configured differently.
      if (up) eviction?.check();
    },
    // At every ping, not only on changes: a reloaded policy can change which domains still answer.
    onCheck: readiness.storeChecked,
  });

  // A worker's port is logged once, by the primary.
  worker?.reportServing(grpc.port);
  if (worker === undefined)
    reportServing(logger, settings.logFormat, {
      grpc: { host: settings.grpcAddr.host, port: grpc.port },
      admin: { host: settings.adminAddr.host, port: admin.port },
      settings,
      domains: [...policy().domains.keys()],
      fields: { policyGeneration: livePolicy.generation() },
    });

  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info({ signal }, "shutting down");
  readiness.stopAccepting();
  await grpc.shutdown(settings.shutdownGraceMs);
  health.stop();
  eviction?.stop();
  await closeCore();
  await admin.close();
  logger.info("stopped");
  worker?.leave();
  return 0;
}

/** How decisions are turned into headers: the same for the limiter, leases and explain. */
function decideOptions(settings: Settings): DecideOptions {
  const { headerStyle, upstreamHeaders, headerNames } = settings;
  return { headerStyle, upstreamHeaders, headerNames };
}

/** Which Redis, if any, and its TLS CA: the same for the counters and the concurrency leases. */
function storeSettings(settings: Settings, redisTlsCa: Buffer | undefined): CounterStoreSettings {
  const { redisUrl, redisCluster, redisSentinel } = settings;
  return { redisUrl, redisCluster, redisSentinel, redisTlsCa };
}
