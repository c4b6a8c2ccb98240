import cluster from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import type { RunningAdminServer } from "../edge/admin/admin-server.ts";
import type { Metrics } from "../metrics/metrics.ts";

/** What a worker tells the primary (cluster-primary.ts) once its gRPC server is bound. */
export interface ServingMessage {
  readonly type: "sluice:serving";
  readonly grpcPort: number;
}

/** What a worker tells the primary at each change of notReadyReason (readiness.ts); null when ready. */
export interface ReadinessMessage {
  readonly type: "sluice:readiness";
  readonly notReady: string | null;
}

export function isReadinessMessage(message: unknown): message is ReadinessMessage {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { type?: unknown }).type === "sluice:readiness" &&
    (typeof (message as { notReady?: unknown }).notReady === "string" ||
      (message as { notReady?: unknown }).notReady === null)
  );
}

export function isServingMessage(message: unknown): message is ServingMessage {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { type?: unknown }).type === "sluice:serving" &&
    typeof (message as { grpcPort?: unknown }).grpcPort === "number"
  );
}

/** A `serve` process running as one of the primary's workers. */
export interface ClusterWorker {
  /** Workers serve no admin port: the primary serves /healthz, /readyz and the aggregated /metrics. */
  admin(): RunningAdminServer;
  /** Tells the primary the gRPC port is bound; the primary logs the one "serving" line. */
  reportServing(grpcPort: number): void;
  /** Tells the primary, whose /readyz answers for every worker, why this one cannot answer calls (undefined: it can). */
  reportReadiness(notReady: string | undefined): void;
  /** Closes the channel to the primary so the process can exit as soon as it is done. */
  leave(): void;
}

/**
 * Joins the primary when this process is a cluster worker (undefined otherwise): its metrics are
 * answered to the primary's AggregatorRegistry, and losing the primary shuts it down like SIGTERM.
 */
export function joinPrimary(metrics: Metrics): ClusterWorker | undefined {
  if (!cluster.isWorker) return undefined;
  AggregatorRegistry.setRegistries([metrics.registry]);
  // Constructing one installs prom-client's listener that answers the primary's metric requests.
  new AggregatorRegistry();
  const orphaned = () => process.kill(process.pid, "SIGTERM");
  process.once("disconnect", orphaned);
  return {
    admin: () => ({ port: 0, close: () => Promise.resolve() }),
    reportServing(grpcPort) {
      process.send?.({ type: "sluice:serving", grpcPort } satisfies ServingMessage);
    },
    reportReadiness(notReady) {
      if (process.connected)
        process.send?.({ type: "sluice:readiness", notReady: notReady ?? null } satisfies ReadinessMessage);
    },
    leave() {
      process.off("disconnect", orphaned);
      if (process.connected) process.disconnect();
    },
  };
}
