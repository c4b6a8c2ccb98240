import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.ts";
import { type RunningProcess, startProcess } from "../support/process.ts";
import { createRlsClient } from "../support/rls-client.ts";
import { runSluice, startSluice } from "../support/sluice-process.ts";
import { callOutcome } from "../support/steady-load.ts";
import { type CertificateFiles, createTestPki, type TestPki } from "../support/test-certificates.ts";

const PASSWORD = "tls-secret";

/** redis-server serving only TLS (`--port 0`), with AUTH, on a free loopback port. */
async function startTlsRedis(server: CertificateFiles, ca: CertificateFiles, dir: string) {
  const port = await freePort();
  const cli = ["--tls", "--cacert", ca.certFile, "-h", "127.0.0.1", "-p", String(port)];
  const redis = await startProcess({
    name: "redis-tls",
    command: "redis-server",
    args: [
      ...["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--dir", dir],
      ...[
        "--tls-cert-file",
        server.certFile,
        "--tls-key-file",
        server.keyFile,
        "--tls-ca-cert-file",
        ca.certFile,
      ],
      ...["--tls-auth-clients", "no", "--requirepass", PASSWORD, "--save", "", "--appendonly", "no"],
    ],
    ready: {
      probe: async () =>
        (
          await promisify(execFile)("redis-cli", [...cli, "-a", PASSWORD, "--no-auth-warning", "ping"])
        ).stdout.trim() === "PONG",
    },
    readyTimeoutMs: 15_000,
  });
  return { redis, url: `rediss://:${PASSWORD}@127.0.0.1:${port}` };
}

describe("Redis over TLS (rediss://) with AUTH", () => {
  let pki: TestPki;
  let ca: CertificateFiles;
  let dir: string;
  let redis: RunningProcess;
  let url: string;

  beforeAll(async () => {
    pki = await createTestPki();
    ca = await pki.createCa("redis-ca");
    const server = await pki.issue(ca, "redis", "server");
    dir = await mkdtemp(join(tmpdir(), "sluice-redis-tls-"));
    ({ redis, url } = await startTlsRedis(server, ca, dir));
  });

  afterAll(async () => {
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
    await pki?.remove();
  });

  it("decides with counters in a TLS Redis whose certificate chains to --redis-tls-ca", async () => {
    const sluice = await startSluice([
      ...["--policy", "test/fixtures/reliability", "--workers", "1"],
      ...["--redis-url", url, "--redis-tls-ca", ca.certFile],
    ]);
    const client = createRlsClient(sluice.grpcAddress);
    try {
      const strict = {
        domain: "rel-default",
        descriptors: [{ entries: [{ key: "strict", value: `tls-${Date.now()}` }] }],
      };
      await expect.poll(() => callOutcome(client, strict, 2_000), { timeout: 10_000 }).toBe("OK+headers");
      const rest = [];
      for (let i = 0; i < 4; i++) rest.push(await callOutcome(client, strict, 2_000));
      // The counts live in Redis: 4 per minute, the first call included.
      expect(rest).toEqual(["OK+headers", "OK+headers", "OK+headers", "OVER_LIMIT+headers"]);
    } finally {
      client.close();
      await sluice.stop();
    }
  });

  it("does not trust a certificate from an unknown CA: calls answer per the failure policy", async () => {
    // A store timeout well inside the client's 2 s deadline (the harness default is 2 s too, which
    // made the store's UNAVAILABLE and the client's DEADLINE_EXCEEDED a race).
    const sluice = await startSluice([
      ...["--policy", "test/fixtures/reliability", "--workers", "1", "--redis-url", url],
      ...["--store-timeout-ms", "500"],
    ]);
    const client = createRlsClient(sluice.grpcAddress);
    try {
      const call = {
        domain: "rel-default",
        descriptors: [{ entries: [{ key: "user", value: "untrusted" }] }],
      };
      expect(await callOutcome(client, call, 2_000)).toBe("UNAVAILABLE:store");
      expect(sluice.output()).toMatch(/self[- ]signed|unable to verify|certificate/i);
    } finally {
      client.close();
      await sluice.stop();
    }
  });

  it("refuses to start when --redis-tls-ca cannot be read", async () => {
    const run = await runSluice([
      ...[
        "serve",
        "--policy",
        "test/fixtures/reliability",
        "--grpc-addr",
        "127.0.0.1:0",
        "--admin-addr",
        "127.0.0.1:0",
      ],
      ...["--redis-url", url, "--redis-tls-ca", join(dir, "missing.pem")],
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("--redis-tls-ca:");
  });
});
