import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth } from "../support/health-client.ts";
import { createRlsClient } from "../support/rls-client.ts";
import { runSluice, type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { callOutcome } from "../support/steady-load.ts";
import { type CertificateFiles, createTestPki, type TestPki } from "../support/test-certificates.ts";

const request = {
  domain: "rel-default",
  descriptors: [{ entries: [{ key: "user", value: `tls-${Date.now()}` }] }],
};

/** One call on a fresh channel of its own (no shared subchannel, no reconnect backoff from an earlier try). */
async function outcomeWith(address: string, channelCredentials: ChannelCredentials): Promise<string> {
  const client = createRlsClient(address, {
    credentials: channelCredentials,
    channelOptions: { "grpc.use_local_subchannel_pool": 1 },
  });
  try {
    return await callOutcome(client, request, 3_000);
  } finally {
    client.close();
  }
}

describe("sluice serve over TLS and mutual TLS", () => {
  let pki: TestPki;
  let ca: CertificateFiles;
  let nextCa: CertificateFiles;
  let client: CertificateFiles;
  let serving: { certFile: string; keyFile: string };
  let sluice: SluiceProcess;

  beforeAll(async () => {
    pki = await createTestPki();
    ca = await pki.createCa("ca");
    nextCa = await pki.createCa("next-ca");
    const server = await pki.issue(ca, "server", "server");
    client = await pki.issue(ca, "client", "client");
    serving = { certFile: join(pki.dir, "serving.crt"), keyFile: join(pki.dir, "serving.key") };
    await copyFile(server.certFile, serving.certFile);
    await copyFile(server.keyFile, serving.keyFile);
    sluice = await startSluice([
      ...["--policy", "test/fixtures/reliability"],
      ...["--tls-cert", serving.certFile, "--tls-key", serving.keyFile, "--tls-client-ca", ca.certFile],
      ...["--tls-reload-interval-ms", "200"],
    ]);
  });

  afterAll(async () => {
    await sluice?.stop();
    await pki?.remove();
  });

  const mutual = (trust: CertificateFiles) => credentials.createSsl(trust.cert, client.key, client.cert);

  it("decides for a client with a certificate from the client CA, and reports health over TLS", async () => {
    expect(await outcomeWith(sluice.grpcAddress, mutual(ca))).toBe("OK+headers");
    expect(await checkHealth(sluice.grpcAddress, "", mutual(ca))).toBe("SERVING");
  });

  it("refuses plaintext, and TLS without a client certificate", async () => {
    expect(await outcomeWith(sluice.grpcAddress, credentials.createInsecure())).toMatch(/^UNAVAILABLE:/);
    expect(await outcomeWith(sluice.grpcAddress, credentials.createSsl(ca.cert))).toMatch(/^UNAVAILABLE:/);
  });

  it("takes up a rotated server certificate without a restart", async () => {
    const rotated = await pki.issue(nextCa, "rotated", "server");
    await copyFile(rotated.certFile, serving.certFile);
    await copyFile(rotated.keyFile, serving.keyFile);
    // New connections get the new certificate: trusted by clients of the next CA, no longer by the old.
    await expect
      .poll(() => outcomeWith(sluice.grpcAddress, mutual(nextCa)), { timeout: 10_000, interval: 100 })
      .toBe("OK+headers");
    expect(await outcomeWith(sluice.grpcAddress, mutual(ca))).toMatch(/^UNAVAILABLE:/);
    expect(sluice.output()).toContain("TLS certificates reloaded");
  });
});

describe("sluice serve with unusable TLS files", () => {
  it("refuses to start rather than serve without TLS", async () => {
    const pki = await createTestPki();
    try {
      const ca = await pki.createCa("ca");
      const one = await pki.issue(ca, "one", "server");
      const other = await pki.issue(ca, "other", "server");
      const run = await runSluice([
        ...["serve", "--policy", "test/fixtures/reliability", "--grpc-addr", "127.0.0.1:0"],
        ...["--admin-addr", "127.0.0.1:0", "--tls-cert", one.certFile, "--tls-key", other.keyFile],
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("sluice serve: TLS:");
    } finally {
      await pki.remove();
    }
  });
});
