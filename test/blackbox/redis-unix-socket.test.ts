import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { freeTenant } from "../support/sample-requests.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

async function overallCodes(client: RlsClient, tenant: string, calls: number): Promise<string[]> {
  const replies = await Promise.all(
    Array.from({ length: calls }, () => client.shouldRateLimit(freeTenant(tenant))),
  );
  return replies.map((r) => r.overall_code);
}

// A Redis beside Sluice on one host, reached through its Unix socket: with the flag, and with the
// reference's REDIS_SOCKET_TYPE=unix. The counters must be as exact as over TCP, and an outage
// must be answered by the failure policy and recovered from, as over TCP.
describe("sluice serve on a Redis reached through a Unix socket", () => {
  let dir: string;
  let socket: string;
  let redis: RedisServer;
  let admin: Redis;
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-unix-"));
    socket = join(dir, "redis.sock");
    redis = await startRedis({ unixSocket: socket });
    admin = new Redis(redis.url);
    sluice = await startSluice(["--policy", "deploy/policies", "--redis-url", `unix://${socket}`]);
    client = createRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    admin?.disconnect();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("admits exactly a Free tenant's 20 a minute from 200 concurrent calls, counted in that Redis", async () => {
    const codes = await overallCodes(client, `unix-${Date.now()}`, 200);
    expect(codes.filter((c) => c === "OK")).toHaveLength(20);
    expect(codes.filter((c) => c === "OVER_LIMIT")).toHaveLength(180);
    expect((await admin.keys("sluice:*")).length).toBeGreaterThan(0);
    // The service reaches this Redis through the socket only: its clients are listed as such.
    const clients = await admin.client("LIST");
    expect(String(clients)).toMatch(/laddr=\S*redis\.sock/);
  });

  it("answers UNAVAILABLE while Redis is down and recovers when it listens on the socket again", async () => {
    const tenant = `unix-outage-${Date.now()}`;
    const port = redis.port;
    admin.disconnect();
    await redis.stop();
    await expect(client.shouldRateLimit(freeTenant(tenant))).rejects.toMatchObject({
      code: status.UNAVAILABLE,
    });
    redis = await startRedis({ port, unixSocket: socket });
    admin = new Redis(redis.url);
    await expect
      .poll(
        () =>
          client.shouldRateLimit(freeTenant(tenant)).then(
            (r) => r.overall_code,
            () => "error",
          ),
        { timeout: 15_000, interval: 200 },
      )
      .toBe("OK");
  });
});

describe("envoyproxy/ratelimit's REDIS_SOCKET_TYPE=unix", () => {
  it("serves from the socket path in REDIS_URL, with REDIS_AUTH", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-unix-"));
    const socket = join(dir, "redis.sock");
    const redis = await startRedis({ unixSocket: socket, password: "s3cret" });
    // The reference's layout: $RUNTIME_ROOT/$RUNTIME_SUBDIRECTORY/config/*.yaml.
    const root = join(dir, "runtime");
    await mkdir(join(root, "ratelimit", "config"), { recursive: true });
    await copyFile("deploy/policies/api.yaml", join(root, "ratelimit", "config", "api.yaml"));
    const ports = { grpc: await freePort(), http: await freePort() };
    const sluice = await startSluice(
      [],
      {
        RUNTIME_ROOT: root,
        RUNTIME_SUBDIRECTORY: "ratelimit",
        RUNTIME_WATCH_ROOT: "false",
        REDIS_SOCKET_TYPE: "unix",
        REDIS_URL: socket,
        REDIS_AUTH: "s3cret",
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: String(ports.grpc),
        HOST: "127.0.0.1",
        PORT: String(ports.http),
        SLUICE_WORKERS: "1",
      },
      { ownFlags: false },
    );
    const client = createRlsClient(sluice.grpcAddress);
    const admin = new Redis(redis.url);
    try {
      const codes = await overallCodes(client, `reference-unix-${Date.now()}`, 30);
      expect(codes.filter((c) => c === "OK")).toHaveLength(20);
      expect((await admin.keys("sluice:*")).length).toBeGreaterThan(0);
    } finally {
      client.close();
      admin.disconnect();
      await sluice.stop();
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
