import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { decodeRequest } from "../../src/edge/grpc/decode-request.ts";
import {
  RateLimitRequest,
  RateLimitResponse,
  RateLimitResponse_Code,
  RateLimitResponse_RateLimit_Unit,
} from "../../src/generated/envoy/service/ratelimit/v3/rls.ts";

// A second, independent schema: the Envoy API snapshot vendored inside @grpc/grpc-js-xds. It predates
// RateLimitDescriptor.hits_addend and Unit.WEEK, so those are checked as unknown-to-it fields/values.
const DEPS = fileURLToPath(new URL("../../node_modules/@grpc/grpc-js-xds/deps/", import.meta.url));
const PROTOBUFJS = fileURLToPath(new URL("../../node_modules/protobufjs/", import.meta.url));
const INCLUDE = [
  ...["envoy-api", "xds", "protoc-gen-validate", "googleapis"].map((d) => `${DEPS}${d}`),
  PROTOBUFJS.replace(/\/$/, ""),
];

function loadEnvoySchema(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of INCLUDE) {
      const candidate = `${dir}/${target}`;
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync("envoy/service/ratelimit/v3/rls.proto", { keepCase: true });
  root.resolveAll();
  return root;
}

describe("wire compatibility with Envoy's published schema", () => {
  const envoy = loadEnvoySchema();
  const EnvoyRequest = envoy.lookupType("envoy.service.ratelimit.v3.RateLimitRequest");
  const EnvoyResponse = envoy.lookupType("envoy.service.ratelimit.v3.RateLimitResponse");

  it("decodes a request encoded with Envoy's schema", () => {
    const bytes = EnvoyRequest.encode(
      EnvoyRequest.fromObject({
        domain: "api",
        hits_addend: 3,
        descriptors: [
          {
            entries: [
              { key: "tenant", value: "acme" },
              { key: "plan", value: "pro" },
            ],
            limit: { requests_per_unit: 42, unit: "HOUR" },
          },
        ],
      }),
    ).finish();
    expect(RateLimitRequest.decode(bytes)).toEqual({
      domain: "api",
      hitsAddend: 3,
      descriptors: [
        {
          entries: [
            { key: "tenant", value: "acme" },
            { key: "plan", value: "pro" },
          ],
          limit: { requestsPerUnit: 42, unit: 3 },
          hitsAddend: undefined,
        },
      ],
    });
  });

  it("decodes a request encoded with Envoy's schema with the server's own decoder too", () => {
    const bytes = EnvoyRequest.encode(
      EnvoyRequest.fromObject({
        domain: "api",
        hits_addend: 4_294_967_295,
        descriptors: [
          { entries: [{ key: "tenant", value: "äcme ✓" }], limit: { requests_per_unit: 42, unit: "HOUR" } },
          { entries: [{ key: "route", value: "" }] },
        ],
      }),
    ).finish();
    expect(decodeRequest(Buffer.from(bytes))).toEqual({
      domain: "api",
      hitsAddend: 4_294_967_295,
      descriptors: [
        {
          entries: [{ key: "tenant", value: "äcme ✓" }],
          limitOverride: { requestsPerUnit: 42, unit: "hour" },
          hitsAddend: undefined,
        },
        { entries: [{ key: "route", value: "" }], limitOverride: undefined, hitsAddend: undefined },
      ],
    });
  });

  it("encodes a response Envoy's schema decodes field for field", () => {
    const bytes = RateLimitResponse.encode({
      overallCode: RateLimitResponse_Code.OVER_LIMIT,
      statuses: [
        {
          code: RateLimitResponse_Code.OVER_LIMIT,
          currentLimit: {
            name: "free_per_minute",
            requestsPerUnit: 20,
            unit: RateLimitResponse_RateLimit_Unit.MINUTE,
          },
          limitRemaining: 0,
          durationUntilReset: { seconds: 12, nanos: 500_000_000 },
        },
      ],
      responseHeadersToAdd: [{ key: "Retry-After", value: "18", rawValue: Buffer.alloc(0) }],
      requestHeadersToAdd: [],
      rawBody: Buffer.from('{"error":"rate_limited"}'),
    }).finish();
    const decoded = EnvoyResponse.toObject(EnvoyResponse.decode(bytes), { enums: String, longs: Number });
    expect({ ...decoded, raw_body: Buffer.from(decoded.raw_body) }).toEqual({
      overall_code: "OVER_LIMIT",
      statuses: [
        {
          code: "OVER_LIMIT",
          current_limit: { name: "free_per_minute", requests_per_unit: 20, unit: "MINUTE" },
          duration_until_reset: { seconds: 12, nanos: 500_000_000 },
        },
      ],
      response_headers_to_add: [{ key: "Retry-After", value: "18" }],
      raw_body: Buffer.from('{"error":"rate_limited"}'),
    });
  });

  it("carries the fields newer than that schema on their documented numbers", () => {
    // hits_addend is field 3 of RateLimitDescriptor (a UInt64Value); the older schema keeps it as an
    // unknown field, which must survive a decode/encode round trip through it unchanged.
    const ours = RateLimitRequest.encode({
      domain: "api",
      hitsAddend: 0,
      descriptors: [{ entries: [{ key: "k", value: "v" }], hitsAddend: 7 }],
    }).finish();
    const descriptorBytes = Buffer.from(ours).subarray(ours.indexOf(0x12) + 2);
    expect([...descriptorBytes.subarray(-4)]).toEqual([0x1a, 0x02, 0x08, 0x07]); // field 3, len 2, {value: 7}

    const unitWeek = RateLimitResponse.encode({
      overallCode: RateLimitResponse_Code.OK,
      statuses: [{ code: 1, currentLimit: { name: "", requestsPerUnit: 1, unit: 7 }, limitRemaining: 0 }],
      responseHeadersToAdd: [],
      requestHeadersToAdd: [],
      rawBody: Buffer.alloc(0),
    }).finish();
    const decoded = EnvoyResponse.toObject(EnvoyResponse.decode(unitWeek), { longs: Number });
    expect(decoded.statuses[0].current_limit.unit).toBe(RateLimitResponse_RateLimit_Unit.WEEK);
    expect(RateLimitResponse_RateLimit_Unit.WEEK).toBe(7);
  });
});
