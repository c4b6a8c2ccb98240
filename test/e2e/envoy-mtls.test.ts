import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { demoCallers, type RunningEnvoy, startEnvoy } from "../support/envoy.ts";
import { startUpstream } from "../support/loopback-upstream.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { type CertificateFiles, createTestPki, type TestPki } from "../support/test-certificates.ts";

/** The rendered config with the `sluice` cluster speaking TLS, presenting `client` when given. */
function withTlsToSluice(ca: CertificateFiles, client: CertificateFiles | undefined) {
  return (config: string): string => {
    const parsed = parse(config) as { static_resources: { clusters: { name: string }[] } };
    const sluice = parsed.static_resources.clusters.find((c) => c.name === "sluice");
    if (sluice === undefined) throw new Error("no sluice cluster in envoy/envoy.yaml");
    Object.assign(sluice, {
      transport_socket: {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          sni: "localhost",
          common_tls_context: {
            // gRPC over TLS negotiates HTTP/2 by ALPN; grpc-js refuses a connection without it.
            alpn_protocols: ["h2"],
            validation_context: { trusted_ca: { filename: ca.certFile } },
            tls_certificates:
              client === undefined
                ? []
                : [
                    {
                      certificate_chain: { filename: client.certFile },
                      private_key: { filename: client.keyFile },
                    },
                  ],
          },
        },
      },
    });
    return stringify(parsed);
  };
}

describe("the real Envoy asking Sluice over mutual TLS", () => {
  let pki: TestPki;
  let ca: CertificateFiles;
  let envoyCert: CertificateFiles;
  let sluice: SluiceProcess;
  let upstream: Server;
  let upstreamPort: number;
  const envoys: RunningEnvoy[] = [];
  const free = demoCallers().find((c) => c.plan === "free");

  beforeAll(async () => {
    pki = await createTestPki();
    ca = await pki.createCa("mesh-ca");
    const sluiceCert = await pki.issue(ca, "sluice", "server");
    envoyCert = await pki.issue(ca, "envoy", "client");
    sluice = await startSluice([
      ...["--policy", "deploy/policies"],
      ...["--tls-cert", sluiceCert.certFile, "--tls-key", sluiceCert.keyFile, "--tls-client-ca", ca.certFile],
    ]);
    ({ server: upstream, port: upstreamPort } = await startUpstream("ok"));
  });

  afterAll(async () => {
    for (const envoy of envoys) await envoy.stop();
    await sluice?.stop();
    upstream?.close();
    await pki?.remove();
  });

  async function envoyWith(client: CertificateFiles | undefined): Promise<RunningEnvoy> {
    const envoy = await startEnvoy({
      sluice: { host: "127.0.0.1", port: Number(sluice.grpcAddress.split(":")[1]) },
      upstream: { host: "127.0.0.1", port: upstreamPort },
      // Refuse when Sluice cannot be asked: a request only passes if the mTLS call succeeded.
      failureModeDeny: true,
      transformConfig: withTlsToSluice(ca, client),
    });
    envoys.push(envoy);
    return envoy;
  }

  it("enforces the Free plan's 20 a minute with decisions fetched over mTLS", async () => {
    if (free === undefined) throw new Error("no free demo caller in envoy/envoy.yaml");
    const envoy = await envoyWith(envoyCert);
    const statuses: number[] = [];
    let limit: string | null = null;
    for (let i = 0; i < 21; i++) {
      const reply = await fetch(`${envoy.url}/v1/leads`, { headers: { "x-api-key": free.apiKey } });
      await reply.arrayBuffer();
      statuses.push(reply.status);
      limit ??= reply.headers.get("x-ratelimit-limit");
    }
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(statuses[20]).toBe(429);
    expect(limit).toBe("20");
  });

  it("gets no decision without a client certificate, so failure_mode_deny refuses", async () => {
    if (free === undefined) throw new Error("no free demo caller in envoy/envoy.yaml");
    const envoy = await envoyWith(undefined);
    const reply = await fetch(`${envoy.url}/v1/leads`, { headers: { "x-api-key": free.apiKey } });
    await reply.arrayBuffer();
    expect(reply.status).not.toBe(200);
    expect(reply.headers.get("x-ratelimit-limit")).toBeNull();
    // Envoy's view: the rate-limit call failed, on a TLS handshake Sluice refused.
    expect((await envoy.counters("ratelimit.error"))["cluster.upstream.ratelimit.error"]).toBeGreaterThan(0);
    expect((await envoy.counters("sluice.ssl"))["cluster.sluice.ssl.connection_error"]).toBeGreaterThan(0);
    expect((await envoy.counters("sluice.ssl"))["cluster.sluice.ssl.handshake"]).toBe(0);
  });
});
