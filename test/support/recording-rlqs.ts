import {
  type handleBidiStreamingCall,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  status,
} from "@grpc/grpc-js";
import {
  type RateLimitQuotaResponse,
  type RateLimitQuotaResponse_BucketAction,
  RateLimitQuotaServiceService,
  RateLimitQuotaUsageReports,
} from "../../src/generated/envoy/service/rate_limit_quota/v3/rlqs.ts";

/** One bucket's line of a usage report, as Envoy sent it. */
export interface RecordedUsage {
  readonly bucket: Record<string, string>;
  /** time_elapsed, in ms. */
  readonly timeElapsedMs: number;
  readonly allowed: number;
  readonly denied: number;
}

/** One RateLimitQuotaUsageReports message as it arrived. */
export interface RecordedReport {
  readonly atMs: number;
  /** Which stream it came on (1 for the first stream Envoy opened, and so on). */
  readonly stream: number;
  readonly domain: string;
  readonly usages: RecordedUsage[];
  /**
   * Whether Sluice's protos re-encode the decoded message to the very bytes Envoy sent: false
   * would mean a field Sluice's definition lacks (dropped as unknown) or a different encoding.
   */
  readonly reencodesExactly: boolean;
}

export interface RecordedStream {
  readonly id: number;
  readonly openedAtMs: number;
  /** When Envoy half-closed or cancelled it, or the stand-in ended it. */
  endedAtMs?: number;
}

export interface RecordingRlqs {
  readonly port: number;
  readonly reports: RecordedReport[];
  readonly streams: RecordedStream[];
  /** Sends one RateLimitQuotaResponse on every open stream; resolves with how many got it. */
  push(actions: RateLimitQuotaResponse_BucketAction[]): number;
  /** Ends every open stream with UNAVAILABLE, as a server going away mid-stream would. */
  breakStreams(): void;
  stop(): Promise<void>;
}

type QuotaStream = ServerDuplexStream<Buffer, RateLimitQuotaResponse>;

// The request side is deserialised to its raw bytes, so each report can be checked against Sluice's
// definition byte for byte before it is decoded.
const RECORDING_DEFINITION = {
  streamRateLimitQuotas: {
    ...RateLimitQuotaServiceService.streamRateLimitQuotas,
    requestSerialize: (bytes: Buffer) => bytes,
    requestDeserialize: (bytes: Buffer) => bytes,
  },
};

/**
 * A stand-in Rate Limit Quota Service that records every usage report Envoy's rate_limit_quota
 * filter sends, with the stream it came on and when, and pushes assignments when told to. It
 * decides nothing itself: what the RLQS protocol does in the real Envoy is what it is for.
 */
export async function startRecordingRlqs(options: { port?: number } = {}): Promise<RecordingRlqs> {
  const reports: RecordedReport[] = [];
  const streams: RecordedStream[] = [];
  const open = new Map<number, QuotaStream>();
  const server = new Server();
  const handler: handleBidiStreamingCall<Buffer, RateLimitQuotaResponse> = (call) => {
    const record: RecordedStream = { id: streams.length + 1, openedAtMs: Date.now() };
    streams.push(record);
    open.set(record.id, call);
    const ended = (): void => {
      record.endedAtMs ??= Date.now();
      open.delete(record.id);
    };
    call.on("data", (bytes: Buffer) => reports.push(recordReport(record.id, bytes)));
    call.on("end", () => {
      ended();
      call.end();
    });
    call.on("cancelled", ended);
    call.on("error", ended);
  };
  server.addService(RECORDING_DEFINITION, { streamRateLimitQuotas: handler });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    port,
    reports,
    streams,
    push(actions) {
      for (const call of open.values()) call.write({ bucketAction: actions });
      return open.size;
    },
    breakStreams() {
      for (const [id, call] of open) {
        call.emit("error", { code: status.UNAVAILABLE, details: "stand-in broke the stream" });
        const record = streams[id - 1];
        if (record !== undefined) record.endedAtMs ??= Date.now();
      }
      open.clear();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const record of streams) record.endedAtMs ??= Date.now();
        server.forceShutdown();
        resolve();
      }),
  };
}

function recordReport(stream: number, bytes: Buffer): RecordedReport {
  const message = RateLimitQuotaUsageReports.decode(bytes);
  return {
    atMs: Date.now(),
    stream,
    domain: message.domain,
    usages: message.bucketQuotaUsages.map((usage) => ({
      bucket: usage.bucketId?.bucket ?? {},
      timeElapsedMs: (usage.timeElapsed?.seconds ?? 0) * 1000 + (usage.timeElapsed?.nanos ?? 0) / 1e6,
      allowed: usage.numRequestsAllowed,
      denied: usage.numRequestsDenied,
    })),
    reencodesExactly: Buffer.from(RateLimitQuotaUsageReports.encode(message).finish()).equals(bytes),
  };
}
