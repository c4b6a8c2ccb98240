import { fileURLToPath } from "node:url";
import {
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

/**
 * A RateLimitService client built at run time with @grpc/proto-loader from proto/, not from the
 * ts-proto output, so black-box tests exercise the wire format independently of the generated code.
 */
export interface RlsReply {
  overall_code: "UNKNOWN" | "OK" | "OVER_LIMIT";
  statuses: {
    code: string;
    current_limit: { name: string; requests_per_unit: number; unit: string } | null;
    limit_remaining: number;
    duration_until_reset: { seconds: string; nanos: number } | null;
  }[];
  response_headers_to_add: { key: string; value: string }[];
  request_headers_to_add: { key: string; value: string }[];
  raw_body: Buffer;
}

export interface RlsDescriptor {
  entries: { key: string; value: string }[];
  limit?: { requests_per_unit: number; unit: string };
  hits_addend?: { value: number };
}

export interface RlsRequest {
  domain: string;
  descriptors: RlsDescriptor[];
  hits_addend?: number;
}

export interface RlsClient {
  /** One call; its deadline is `timeoutMs` from now (default 10 s). */
  shouldRateLimit(request: RlsRequest, options?: { timeoutMs?: number }): Promise<RlsReply>;
  close(): void;
}

export interface RlsClientOptions {
  /** Default: plaintext. */
  readonly credentials?: ChannelCredentials;
  /** Extra channel options, e.g. `grpc.ssl_target_name_override`. */
  readonly channelOptions?: ChannelOptions;
}

const PROTO_ROOT = fileURLToPath(new URL("../../proto/", import.meta.url));

export function createRlsClient(address: string, options: RlsClientOptions = {}): RlsClient {
  const definition = loadSync("envoy/service/ratelimit/v3/rls.proto", {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const pkg = loadPackageDefinition(definition) as any;
  const Service = pkg.envoy.service.ratelimit.v3.RateLimitService;
  const client = new Service(
    address,
    options.credentials ?? credentials.createInsecure(),
    options.channelOptions ?? {},
  ) as Client & {
    ShouldRateLimit(
      request: RlsRequest,
      metadata: Metadata,
      options: { deadline: number },
      callback: (error: ServiceError | null, reply: RlsReply) => void,
    ): void;
  };
  return {
    shouldRateLimit(request, { timeoutMs = 10_000 } = {}) {
      return new Promise((resolve, reject) => {
        client.ShouldRateLimit(
          request,
          new Metadata(),
          { deadline: Date.now() + timeoutMs },
          (error, reply) => (error ? reject(error) : resolve(reply)),
        );
      });
    },
    close() {
      client.close();
    },
  };
}

/** Header values of a reply as a lower-cased map. */
export function headersOf(pairs: readonly { key: string; value: string }[]): Record<string, string> {
  return Object.fromEntries(pairs.map((h) => [h.key.toLowerCase(), h.value]));
}
