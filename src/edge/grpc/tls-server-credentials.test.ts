import { credentials, Server } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth } from "../../../test/support/health-client.ts";
import {
  type CertificateFiles,
  createTestPki,
  type TestPki,
} from "../../../test/support/test-certificates.ts";
import { tlsServerCredentials } from "./tls-server-credentials.ts";
import { watchCertificates } from "./watched-certificates.ts";

/** A real grpc-js server (health service only) on port 0 with the given credentials, and a real client. */
async function serve(mutual: boolean, server: CertificateFiles, ca: CertificateFiles) {
  const watched = watchCertificates(
    { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: mutual ? ca.certFile : undefined },
    { intervalMs: 60_000 },
  );
  const grpcServer = new Server();
  new HealthImplementation({ "": "SERVING" }).addToServer(grpcServer);
  const port = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync("127.0.0.1:0", tlsServerCredentials(watched, mutual), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    stop() {
      watched.close();
      grpcServer.forceShutdown();
    },
  };
}

describe("tlsServerCredentials", () => {
  let pki: TestPki;
  let ca: CertificateFiles;
  let serverCert: CertificateFiles;
  let clientCert: CertificateFiles;
  let otherClient: CertificateFiles;

  beforeAll(async () => {
    pki = await createTestPki();
    ca = await pki.createCa("ca");
    serverCert = await pki.issue(ca, "server", "server");
    clientCert = await pki.issue(ca, "client", "client");
    const stranger = await pki.createCa("stranger-ca");
    otherClient = await pki.issue(stranger, "stranger", "client");
  });
  afterAll(async () => {
    await pki?.remove();
  });

  it("serves TLS without asking for a client certificate", async () => {
    const server = await serve(false, serverCert, ca);
    try {
      expect(await checkHealth(server.address, "", credentials.createSsl(ca.cert))).toBe("SERVING");
      await expect(checkHealth(server.address, "", credentials.createInsecure())).rejects.toThrow();
    } finally {
      server.stop();
    }
  });

  it("serves mutual TLS: a client certificate from the client CA is required", async () => {
    const server = await serve(true, serverCert, ca);
    try {
      expect(
        await checkHealth(
          server.address,
          "",
          credentials.createSsl(ca.cert, clientCert.key, clientCert.cert),
        ),
      ).toBe("SERVING");
      await expect(checkHealth(server.address, "", credentials.createSsl(ca.cert))).rejects.toThrow();
      await expect(
        checkHealth(server.address, "", credentials.createSsl(ca.cert, otherClient.key, otherClient.cert)),
      ).rejects.toThrow();
    } finally {
      server.stop();
    }
  });
});
