import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type PrometheusContentType } from "prom-client";
import { startAdminServer } from "../edge/admin/admin-server.ts";
import { questionRoute } from "../edge/admin/question-route.ts";
import type { Logger } from "../log/logger.ts";
import type { Settings } from "../settings/settings.ts";
import { askWorkers } from "./cluster-questions.ts";
import { isReadinessMessage, isServingMessage } from "./cluster-worker.ts";
import { listenOn, reportNotListening } from "./listen-on.ts";

export interface PrimaryOptions {
  readonly settings: Settings;
  readonly logger: Logger;
  /** Logs the one "serving" report, once every worker is bound (serving-report.ts). */
  readonly reportServing: (ports: { readonly grpcPort: number; readonly adminPort: number }) => void;
}

/** Extra wait beyond the workers' own shutdown grace before they are killed, in ms. */
const STOP_MARGIN_MS = 5_000;

/**
 * `serve --workers N` (N > 1): forks N copies of this very command on one gRPC port and supervises
 * them. node:cluster hands the listening socket to the workers (connections go round-robin, and a
 * gRPC connection stays with the worker that accepted it), so `--grpc-addr HOST:0` resolves to one
 * port shared by all. Each worker has its own counter store connection and watches the policy itself.
 *
 * The primary holds no limiter: it serves the admin port (metrics aggregated over the workers by
 * prom-client's AggregatorRegistry: counters and histograms summed, states as the worst worker's;
 * /explain, /usage, /json and /rlconfig answered by a worker, cluster-questions.ts),
 * logs the one "serving" line once every worker is bound, forwards SIGHUP to every worker, replaces
 * a worker that dies, and on SIGTERM or SIGINT stops them all before it exits.
 */
export async function superviseWorkers({ settings, logger, reportServing }: PrimaryOptions): Promise<number> {
  const registry = new ClusterRegistry();
  const ports = new Map<Worker, number>();
  /** Each worker's latest notReadyReason (readiness.ts); null once it can answer calls. */
  const notReady = new Map<Worker, string | null>();
  let stopping = false;
  // /explain, /usage, /json and /rlconfig need a store, limiter or live policy: each is answered
  // by a bound worker (cluster-questions.ts).
  const questions = askWorkers({
    workers: () => [...workers].filter((worker) => ports.has(worker) && worker.isConnected()),
  });

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on("message", (message: unknown) => {
      if (isServingMessage(message)) ports.set(worker, message.grpcPort);
      if (isReadinessMessage(message)) notReady.set(worker, message.notReady);
      questions.received(message);
    });
    return worker;
  };
  const workers = new Set<Worker>();
  for (let i = 0; i < settings.workers; i++) workers.add(fork());

  const started = await allServing(workers, ports);
  if (!started.ok) {
    logger.error({ reason: started.reason }, "workers did not start; not serving");
    stopping = true;
    await stopAll(workers, 0);
    return 1;
  }

  cluster.on("exit", (worker, code, signal) => {
    questions.gone(worker);
    if (!workers.delete(worker) || stopping) return;
    ports.delete(worker);
    notReady.delete(worker);
    logger.error({ pid: worker.process.pid, code, signal }, "worker exited; starting a replacement");
    workers.add(fork());
  });

  const adminListening = await listenOn("adminAddr", settings.adminAddr, (addr) =>
    startAdminServer(addr, {
      metrics: { registry },
      state: { notReady: () => (stopping ? "shutting down" : workersNotReady(workers, ports, notReady)) },
      routes: [questionRoute(questions.ask)],
    }),
  );
  if (!adminListening.ok) {
    reportNotListening(adminListening.error, logger);
    stopping = true;
    await stopAll(workers, settings.shutdownGraceMs + STOP_MARGIN_MS);
    return 1;
  }
  const admin = adminListening.server;
  reportServing({ grpcPort: started.port, adminPort: admin.port });

  const onHangup = () => {
    for (const worker of workers) worker.process.kill("SIGHUP");
  };
  process.on("SIGHUP", onHangup);
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info({ signal }, "shutting down");
  stopping = true;
  process.off("SIGHUP", onHangup);
  const clean = await stopAll(workers, settings.shutdownGraceMs + STOP_MARGIN_MS);
  await admin.close();
  logger.info("stopped");
  return clean ? 0 : 1;
}

/** Answers /metrics with every worker's metrics aggregated, as admin-server reads `registry.metrics()`. */
class ClusterRegistry extends AggregatorRegistry<PrometheusContentType> {
  override metrics(): Promise<string> {
    return this.clusterMetrics();
  }
}

/**
 * Ready only when every worker is: connections are dealt round-robin, so a call can land on any of
 * them. Each worker decides for itself (readiness.ts); this only gathers their answers.
 */
function workersNotReady(
  workers: ReadonlySet<Worker>,
  ports: ReadonlyMap<Worker, number>,
  notReady: ReadonlyMap<Worker, string | null>,
): string | undefined {
  for (const worker of workers) {
    const pid = worker.process.pid;
    if (!ports.has(worker)) return `worker ${pid} not serving yet`;
    const reason = notReady.get(worker);
    if (reason === undefined) return `worker ${pid}: counter store not checked yet`;
    if (reason !== null) return `worker ${pid}: ${reason}`;
  }
  return undefined;
}

type Started = { ok: true; port: number } | { ok: false; reason: string };

/** Waits until every worker reported its bound port (all the same), or one exited first. */
function allServing(workers: ReadonlySet<Worker>, ports: Map<Worker, number>): Promise<Started> {
  return new Promise((resolve) => {
    const check = (worker: Worker, message: unknown) => {
      if (isServingMessage(message)) ports.set(worker, message.grpcPort);
      if (![...workers].every((w) => ports.has(w))) return;
      cleanup();
      const distinct = new Set(ports.values());
      resolve(
        distinct.size === 1
          ? { ok: true, port: [...distinct][0] as number }
          : { ok: false, reason: `workers bound different ports: ${[...distinct].join(", ")}` },
      );
    };
    const onExit = (worker: Worker, code: number | null) => {
      cleanup();
      resolve({ ok: false, reason: `worker ${worker.process.pid} exited with ${code} before serving` });
    };
    const cleanup = () => {
      cluster.off("message", check);
      cluster.off("exit", onExit);
    };
    cluster.on("message", check);
    cluster.on("exit", onExit);
  });
}

/** SIGTERM to every worker; SIGKILL to those still running after `graceMs`. True if all exited 0. */
async function stopAll(workers: ReadonlySet<Worker>, graceMs: number): Promise<boolean> {
  const exits = [...workers].map(
    (worker) =>
      new Promise<boolean>((resolve) => {
        if (worker.isDead()) return resolve(worker.process.exitCode === 0);
        const kill = setTimeout(() => worker.process.kill("SIGKILL"), graceMs);
        worker.once("exit", (code) => {
          clearTimeout(kill);
          resolve(code === 0);
        });
        worker.process.kill("SIGTERM");
      }),
  );
  return (await Promise.all(exits)).every(Boolean);
}
