import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import {
  type RateLimitRequest,
  type RateLimitResponse,
  RateLimitResponse_Code,
  RateLimitServiceService,
} from "../../src/generated/envoy/service/ratelimit/v3/rls.ts";

/** One ShouldRateLimit call as it arrived, and what became of it. */
export interface RecordedCall {
  readonly atMs: number;
  /** Each descriptor as `key=value` entries joined by commas. */
  readonly descriptors: string[];
  readonly hitsAddend: number;
  /** The call's deadline (ms since the epoch), from Envoy's grpc-timeout. */
  readonly deadlineMs: number;
  /** Set when Envoy reset the call before it was answered. */
  cancelledBeforeAnswerMs?: number;
}

/** How to answer a call: at once OK, OVER_LIMIT, or never (the call hangs until Envoy gives up). */
export type Answer = "ok" | "over_limit" | "hang";

export interface RecordingRls {
  readonly port: number;
  readonly calls: RecordedCall[];
  /** Chooses each call's answer from its descriptors (default: OK). */
  answerWith(choose: (descriptors: string[]) => Answer): void;
  stop(): Promise<void>;
}

/**
 * A stand-in rate-limit service that records every ShouldRateLimit call Envoy makes, to see what
 * Envoy sends and when (e.g. the `apply_on_stream_done` call at the end of a stream).
 */
export async function startRecordingRls(): Promise<RecordingRls> {
  const calls: RecordedCall[] = [];
  let choose: (descriptors: string[]) => Answer = () => "ok";
  const server = new Server();
  server.addService(RateLimitServiceService, {
    shouldRateLimit(
      call: ServerUnaryCall<RateLimitRequest, RateLimitResponse>,
      callback: sendUnaryData<RateLimitResponse>,
    ) {
      const deadline = call.getDeadline();
      const record: RecordedCall = {
        atMs: Date.now(),
        descriptors: call.request.descriptors.map((d) =>
          d.entries.map((e) => `${e.key}=${e.value}`).join(","),
        ),
        hitsAddend: call.request.hitsAddend,
        deadlineMs: deadline instanceof Date ? deadline.getTime() : deadline,
      };
      calls.push(record);
      let answered = false;
      // grpc-js emits 'cancelled' when the stream closes, answered or not; only an early one counts.
      call.once("cancelled", () => {
        if (!answered) record.cancelledBeforeAnswerMs = Date.now() - record.atMs;
      });
      const answer = choose(record.descriptors);
      if (answer === "hang") return;
      answered = true;
      callback(null, {
        overallCode: answer === "ok" ? RateLimitResponse_Code.OK : RateLimitResponse_Code.OVER_LIMIT,
        statuses: [],
        responseHeadersToAdd: [],
        requestHeadersToAdd: [],
        rawBody: Buffer.alloc(0),
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    port,
    calls,
    answerWith(next) {
      choose = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
