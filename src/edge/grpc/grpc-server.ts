import { type ChannelOptions, Server, ServerCredentials, status } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { type Decision, InvalidRequestError, type RateLimitCall } from "../../limiter/limiter-types.ts";
import type { CallContext } from "../../limiter/rate-limiter.ts";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../limiter/request-limits.ts";
import type { Metrics } from "../../metrics/metrics.ts";
import type { PolicyTable } from "../../policy/policy-types.ts";
import type { HostPort } from "../../settings/settings.ts";
import { callerGaveUp, deadlineMs } from "./call-deadline.ts";
import { decodeRequest } from "./decode-request.ts";
import { encodeDecision } from "./encode-decision.ts";
import { toGrpcErrorStatus } from "./error-status.ts";
import { RATE_LIMIT_QUOTA_SERVICE, type RateLimitQuotaService } from "./rate-limit-quota-service.ts";
import { createReflectionService } from "./reflection-service.ts";
import { rateLimitServiceDefinition } from "./service-definition.ts";
import { routeStreams } from "./stream-router.ts";
import {
  isPlainUnaryRequest,
  serveUnaryStream,
  type UnaryCall,
  type UnaryCallback,
  type UnaryHandler,
} from "./unary-stream.ts";

export const RATE_LIMIT_SERVICE = "envoy.service.ratelimit.v3.RateLimitService";

/**
 * The reason a cancelled call's signal is aborted with. abort() without one builds a DOMException,
 * stack trace and all, and grpc-js reports 'cancelled' for many finished calls too (ghz's, for one):
 * that was 3 % of the server's time under load. Listeners only need the 'abort' event.
 */
const CALL_CANCELLED = Object.freeze(new Error("call cancelled by the client"));

/**
 * Messages grpc-js refuses itself (RESOURCE_EXHAUSTED) rather than hand over: beyond this, a message
 * is not even buffered. Between `maxMessageBytes` and this, Sluice refuses it with INVALID_ARGUMENT.
 */
export const MESSAGE_CEILING_BYTES = 4 * 1024 * 1024;

/**
 * The request arrives as bytes (decode-request.ts); the reply goes back encoded (encode-decision.ts).
 * Served by unary-stream.ts for plain calls, by grpc-js for the rest (compressed ones): both fit.
 */
type IncomingCall = UnaryCall;

export interface GrpcServerOptions {
  readonly limiter: {
    shouldRateLimit(call: RateLimitCall, context?: CallContext): Decision | Promise<Decision>;
  };
  readonly policy: () => PolicyTable;
  readonly metrics: Metrics;
  /**
   * Bound on one encoded request in bytes, answered INVALID_ARGUMENT beyond it; default 64 KiB.
   * grpc-js itself refuses messages over MESSAGE_CEILING_BYTES (or twice this bound, if larger)
   * with RESOURCE_EXHAUSTED before buffering them.
   */
  readonly maxMessageBytes?: number | undefined;
  /** TLS or mutual TLS (start-tls.ts); plaintext when absent. */
  readonly credentials?: ServerCredentials | undefined;
  /** The Rate Limit Quota Service, served on the same port (rate-limit-quota-service.ts); absent: not served. */
  readonly quota?: RateLimitQuotaService | undefined;
}

/**
 * The grpc-js server's options, shared with the benchmark's baseline server so both measure the same
 * transport. Channelz is off: Sluice serves no channelz service, and its per-call bookkeeping (a
 * timestamp object, listeners and counters per stream) was a few percent of the server's time.
 */
export function grpcServerOptions(maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): ChannelOptions {
  return {
    "grpc.max_receive_message_length": Math.max(MESSAGE_CEILING_BYTES, 2 * maxMessageBytes),
    "grpc.enable_channelz": 0,
  };
}

export interface RunningGrpcServer {
  /** The bound port (useful when the settings asked for port 0). */
  readonly port: number;
  /** Sets the gRPC health status of the server and of each service it serves. */
  setServing(serving: boolean): void;
  /** Stops accepting calls, waits up to `graceMs` for in-flight ones, then closes. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startGrpcServer(
  addr: HostPort,
  options: GrpcServerOptions,
): Promise<RunningGrpcServer> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const serverOptions = grpcServerOptions(maxMessageBytes);
  const server = new Server(serverOptions);
  const shouldRateLimit = (call: IncomingCall, callback: UnaryCallback) =>
    answer(call, callback, options, maxMessageBytes);
  server.addService(rateLimitServiceDefinition, { shouldRateLimit });
  const { quota } = options;
  if (quota) server.addService(quota.definition, quota.implementation);
  const services = quota ? [RATE_LIMIT_SERVICE, RATE_LIMIT_QUOTA_SERVICE] : [RATE_LIMIT_SERVICE];

  const health = new HealthImplementation(
    Object.fromEntries(["", ...services].map((name) => [name, "NOT_SERVING"])),
  );
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
  routeRateLimitStreams(server, shouldRateLimit, serverOptions);

  return {
    port,
    setServing(serving) {
      const status = serving ? "SERVING" : "NOT_SERVING";
      for (const name of ["", ...services]) health.setStatus(name, status);
    },
    shutdown(graceMs) {
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
        // Envoy holds quota streams open for its lifetime: ended (once no new stream can start), or
        // they would hold the whole grace period.
        quota?.endStreams();
      });
    },
  };
}

/**
 * Serves plain ShouldRateLimit calls on their HTTP/2 stream (unary-stream.ts) in front of `server`'s
 * grpc-js dispatcher, with the receive ceiling of its options; after `bindAsync`. Shared with the
 * benchmark's baseline server, so both measure the same transport.
 */
export function routeRateLimitStreams(
  server: Server,
  shouldRateLimit: UnaryHandler,
  serverOptions: ChannelOptions,
): void {
  const receiveCeiling = serverOptions["grpc.max_receive_message_length"] as number;
  routeStreams(server, {
    path: `/${RATE_LIMIT_SERVICE}/ShouldRateLimit`,
    wants: isPlainUnaryRequest,
    serve: (stream, headers) => serveUnaryStream(stream, headers, shouldRateLimit, receiveCeiling),
  });
}

/**
 * Decides one call and replies. A decision that needed no waiting (memory store, over-limit cache,
 * nothing to charge) is sent in the same turn of the event loop, before grpc-js writes the frames
 * it has queued; only a decision that waits for the store goes through a promise.
 */
function answer(
  call: IncomingCall,
  callback: UnaryCallback,
  { limiter, policy, metrics }: GrpcServerOptions,
  maxMessageBytes: number,
): void {
  const stopTimer = metrics.startCallTimer();
  const deadline = deadlineMs(call);
  const reply = (decision: Decision): void => {
    try {
      if (callerGaveUp(call, deadline)) {
        metrics.recordAbandonedCall();
        decision.undelivered?.();
        endPastDeadline(call, callback);
      } else {
        metrics.recordDecision(request.domain, policy().hasDomain(request.domain), decision);
        callback(null, encodeDecision(decision));
      }
    } catch (error: unknown) {
      // As for an error deciding: answered INTERNAL, never thrown into grpc-js or left unhandled.
      return fail(error);
    }
    stopTimer();
  };
  const fail = (error: unknown): void => {
    if (callerGaveUp(call, deadline)) {
      metrics.recordAbandonedCall();
      endPastDeadline(call, callback);
    } else {
      const { code, details, kind } = toGrpcErrorStatus(error);
      // Store failures are counted by kind where they happen, in the instrumented store.
      metrics.recordError(kind);
      callback({ code, details }, null);
    }
    stopTimer();
  };
  let request: RateLimitCall;
  let decided: Decision | Promise<Decision>;
  try {
    request = decodeRequest(checkSize(call.request, maxMessageBytes));
    decided = limiter.shouldRateLimit(request, new GrpcCallContext(call, deadline));
  } catch (error: unknown) {
    return fail(error);
  }
  if (decided instanceof Promise) decided.then(replyAfterReads(reply), fail);
  else reply(decided);
}

/**
 * A call still open past its deadline ends with DEADLINE_EXCEEDED, as gRPC servers answer one. grpc-js
 * has sent it already from its own timer and ignores this; the stream transport (unary-stream.ts) sets
 * no timer per call and relies on the decision arriving by the deadline (the store's budget ends there).
 */
function endPastDeadline(call: IncomingCall, callback: UnaryCallback): void {
  if (!call.cancelled) callback({ code: status.DEADLINE_EXCEEDED, details: "Deadline exceeded" }, null);
}

/**
 * A decision holding concurrency leases is sent one event-loop turn later (setImmediate runs after
 * the I/O just read): Envoy cancels a call whose client went away and then sends no stream-done
 * release, and a cancel read in this turn, behind the store reply that decided the call, would
 * otherwise be seen only after the answer went out to no one, its leases held until lease_ttl.
 */
function replyAfterReads(reply: (decision: Decision) => void): (decision: Decision) => void {
  return (decision) => {
    if (decision.undelivered === undefined) reply(decision);
    else setImmediate(reply, decision);
  };
}

/**
 * The call's deadline, and a signal aborted when the caller cancels, made only when read: a call
 * queued for a concurrency lease stops waiting once Envoy resets the stream (its client went away
 * or its timeout fired), while the other calls, nearly all of them, never look at it. A class, so
 * the getter lives on the prototype instead of being defined on a new object per call.
 */
class GrpcCallContext implements CallContext {
  readonly deadlineMs: number;
  readonly #call: IncomingCall;
  #controller: AbortController | undefined;

  constructor(call: IncomingCall, deadline: number) {
    this.#call = call;
    this.deadlineMs = deadline;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const created = new AbortController();
      if (this.#call.cancelled) created.abort(CALL_CANCELLED);
      else this.#call.once("cancelled", () => created.abort(CALL_CANCELLED));
      this.#controller = created;
    }
    return this.#controller.signal;
  }
}

/** An oversized message is refused before it is decoded. */
function checkSize(message: Buffer, maxBytes: number): Buffer {
  if (message.length <= maxBytes) return message;
  throw new InvalidRequestError(
    `request message is ${message.length} bytes, over the limit of ${maxBytes} bytes (max message bytes)`,
  );
}
