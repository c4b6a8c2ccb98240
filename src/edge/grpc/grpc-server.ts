import { Server, ServerCredentials, type ServiceError, type sendUnaryData } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import {
  type RateLimitRequest,
  type RateLimitResponse,
  type RateLimitServiceServer,
} from "../../generated/envoy/service/ratelimit/v3/rls.ts";
import type { Decision, RateLimitCall } from "../../limiter/limiter-types.ts";
import type { CallContext } from "../../limiter/rate-limiter.ts";
import type { Metrics } from "../../metrics/metrics.ts";
import type { PolicyTable } from "../../policy/policy-types.ts";
import type { HostPort } from "../../settings/settings.ts";
import { callerGaveUp, deadlineMs, type WaitingCaller } from "./call-deadline.ts";
import { toGrpcErrorStatus } from "./error-status.ts";
import { toRateLimitCall, toRateLimitResponse } from "./proto-mapping.ts";
import { createReflectionService } from "./reflection-service.ts";
import { RateLimitServiceDefinition } from "./response-serializer.ts";

export const RATE_LIMIT_SERVICE = "envoy.service.ratelimit.v3.RateLimitService";

/**
 * The reason a cancelled call's signal is aborted with. abort() without one builds a DOMException,
 * stack trace and all, and grpc-js reports 'cancelled' for many finished calls too (ghz's, for one):
 * that was 3 % of the server's time under load. Listeners only need the 'abort' event.
 */
const CALL_CANCELLED = Object.freeze(new Error("call cancelled by the client"));

export interface GrpcServerOptions {
  readonly limiter: { shouldRateLimit(call: RateLimitCall, context?: CallContext): Promise<Decision> };
  readonly policy: () => PolicyTable;
  readonly metrics: Metrics;
  /** Bound on one encoded request in bytes; grpc-js answers RESOURCE_EXHAUSTED beyond it. */
  readonly maxMessageBytes?: number | undefined;
  /** TLS or mutual TLS (start-tls.ts); plaintext when absent. */
  readonly credentials?: ServerCredentials | undefined;
}

export interface RunningGrpcServer {
  /** The bound port (useful when the settings asked for port 0). */
  readonly port: number;
  /** Sets the gRPC health status of the server and of the rate-limit service. */
  setServing(serving: boolean): void;
  /** Stops accepting calls, waits up to `graceMs` for in-flight ones, then closes. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startGrpcServer(
  addr: HostPort,
  options: GrpcServerOptions,
): Promise<RunningGrpcServer> {
  const server = new Server(
    options.maxMessageBytes === undefined
      ? {}
      : { "grpc.max_receive_message_length": options.maxMessageBytes },
  );
  const implementation: RateLimitServiceServer = {
    shouldRateLimit: (call, callback) => {
      // A call queued for a concurrency lease stops waiting once Envoy resets the stream (its
      // client went away or its timeout fired); grpc-js says so with 'cancelled'.
      const cancelled = new AbortController();
      call.once("cancelled", () => cancelled.abort(CALL_CANCELLED));
      void answer(call.request, callback, options, call, cancelled.signal);
    },
  };
  // As generated, but replies are encoded through one reused writer (response-serializer.ts).
  server.addService(RateLimitServiceDefinition, implementation);

  const health = new HealthImplementation({ "": "NOT_SERVING", [RATE_LIMIT_SERVICE]: "NOT_SERVING" });
  health.addToServer(server);
  createReflectionService().addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host;
    server.bindAsync(
      `${host}:${addr.port}`,
      options.credentials ?? ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    );
  });

  return {
    port,
    setServing(serving) {
      const status = serving ? "SERVING" : "NOT_SERVING";
      health.setStatus("", status);
      health.setStatus(RATE_LIMIT_SERVICE, status);
    },
    shutdown(graceMs) {
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

async function answer(
  request: RateLimitRequest,
  callback: sendUnaryData<RateLimitResponse>,
  { limiter, policy, metrics }: GrpcServerOptions,
  caller: WaitingCaller,
  signal: AbortSignal,
): Promise<void> {
  const stopTimer = metrics.startCallTimer();
  const deadline = deadlineMs(caller);
  try {
    const call = toRateLimitCall(request);
    const decision = await limiter.shouldRateLimit(call, { deadlineMs: deadline, signal });
    if (callerGaveUp(caller, deadline)) return metrics.recordAbandonedCall();
    metrics.recordDecision(call.domain, policy().hasDomain(call.domain), decision);
    callback(null, toRateLimitResponse(decision));
  } catch (error: unknown) {
    if (callerGaveUp(caller, deadline)) return metrics.recordAbandonedCall();
    const { code, details, kind } = toGrpcErrorStatus(error);
    // Store failures are counted by kind where they happen, in the instrumented store.
    metrics.recordError(kind);
    callback({ code, details, name: "Error", message: details } as ServiceError, null);
  } finally {
    stopTimer();
  }
}
