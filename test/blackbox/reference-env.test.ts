import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.ts";
import { scrape, seriesValue } from "../support/metrics-text.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, headersOf, type RlsClient } from "../support/rls-client.ts";
import { logLines, type SluiceProcess, startSluice } from "../support/sluice-process.ts";

// A config as envoyproxy/ratelimit reads it: two calls a minute per user.
const CONFIG = `domain: dropin
descriptors:
  - key: user
    rate_limit:
      unit: minute
      requests_per_unit: 2
`;
const call = (user: string) => ({
  domain: "dropin",
  descriptors: [{ entries: [{ key: "user", value: user }] }],
});

/** `$RUNTIME_ROOT/$RUNTIME_SUBDIRECTORY/config/limits.yaml`, the reference's layout. */
async function runtimeRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "sluice-dropin-"));
  await mkdir(join(root, "ratelimit", "config"), { recursive: true });
  await writeFile(join(root, "ratelimit", "config", "limits.yaml"), CONFIG);
  return root;
}

describe("sluice serve with no flags and envoyproxy/ratelimit's environment", () => {
  let root: string;
  let redis: RedisServer;
  let sluice: SluiceProcess;
  let client: RlsClient;
  let ports: { grpc: number; http: number };

  beforeAll(async () => {
    root = await runtimeRoot();
    redis = await startRedis({ password: "s3cret" });
    ports = { grpc: await freePort(), http: await freePort() };
    sluice = await startSluice(
      [],
      {
        RUNTIME_ROOT: root,
        RUNTIME_SUBDIRECTORY: "ratelimit",
        RUNTIME_WATCH_ROOT: "false",
        REDIS_SOCKET_TYPE: "tcp",
        REDIS_URL: `127.0.0.1:${redis.port}`,
        REDIS_AUTH: "s3cret",
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: String(ports.grpc),
        HOST: "127.0.0.1",
        PORT: String(ports.http),
        LOG_LEVEL: "info",
        LIMIT_RESPONSE_HEADERS_ENABLED: "true",
        LIMIT_REMAINING_HEADER: "X-Left",
        USE_STATSD: "true",
        STATSD_HOST: "statsd",
        SLUICE_WORKERS: "1",
      },
      { ownFlags: false },
    );
    client = createRlsClient(sluice.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("listens where GRPC_PORT and PORT say: gRPC, and the admin endpoints on the reference's HTTP port", async () => {
    expect(sluice.grpcAddress).toBe(`127.0.0.1:${ports.grpc}`);
    expect(sluice.adminUrl).toBe(`http://127.0.0.1:${ports.http}`);
    expect((await fetch(`${sluice.adminUrl}/healthz`)).status).toBe(200);
  });

  it("serves the config of the runtime layout, counting in the Redis of REDIS_URL and REDIS_AUTH", async () => {
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await client.shouldRateLimit(call("ana")));
    expect(replies.map((r) => r.overall_code)).toEqual(["OK", "OK", "OVER_LIMIT"]);
    const direct = new Redis({ port: redis.port, password: "s3cret", lazyConnect: true });
    try {
      expect((await direct.keys("sluice:*")).length).toBeGreaterThan(0);
    } finally {
      direct.disconnect();
    }
  });

  it("adds the reference's headers, renamed as LIMIT_REMAINING_HEADER says", async () => {
    const reply = await client.shouldRateLimit(call("bo"));
    expect(headersOf(reply.response_headers_to_add)).toEqual({
      "ratelimit-limit": "2",
      "x-left": "1",
      "ratelimit-reset": expect.stringMatching(/^\d+$/),
    });
  });

  it("warns once about each reference setting it does not implement, and notes the ones it does not need", () => {
    const notices = (logLines(sluice) as { setting?: string; msg?: string }[]).filter(
      (r) => r.setting !== undefined,
    );
    const about = (words: string) => notices.filter((r) => r.msg?.includes(words)).map((r) => r.setting);
    expect(about("Sluice does not implement it")).toEqual(["USE_STATSD", "STATSD_HOST"]);
    expect(about("Sluice does not need it")).toEqual(["RUNTIME_WATCH_ROOT"]);
  });
});

describe("SHADOW_MODE, and Sluice's own variables over the reference's", () => {
  let root: string;
  const started: SluiceProcess[] = [];
  const clients: RlsClient[] = [];

  beforeAll(async () => {
    root = await runtimeRoot();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const s of started) await s.stop();
    await rm(root, { recursive: true, force: true });
  });

  async function serve(env: Record<string, string>) {
    const sluice = await startSluice([], { RUNTIME_ROOT: root, RUNTIME_SUBDIRECTORY: "ratelimit", ...env });
    started.push(sluice);
    const client = createRlsClient(sluice.grpcAddress);
    clients.push(client);
    return { sluice, client };
  }

  it("answers every call OK, keeps each descriptor's status, and counts what it let through", async () => {
    const { sluice, client } = await serve({ SHADOW_MODE: "true" });
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await client.shouldRateLimit(call("cy")));
    expect(replies.map((r) => r.overall_code)).toEqual(["OK", "OK", "OK"]);
    expect(replies.map((r) => r.statuses[0]?.code)).toEqual(["OK", "OK", "OVER_LIMIT"]);
    expect(replies[2]?.response_headers_to_add).toEqual([]);
    expect(replies[2]?.raw_body.length).toBe(0);
    await expect
      .poll(async () =>
        seriesValue(await scrape(sluice.adminUrl), 'sluice_global_shadow_total{domain="dropin"}'),
      )
      .toBe(1);
  });

  it("answers POST /json in shadow too, as the reference's /json goes through its service", async () => {
    const { sluice } = await serve({ SHADOW_MODE: "true" });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const reply = await fetch(`${sluice.adminUrl}/json`, {
        method: "POST",
        body: JSON.stringify(call("js")),
      });
      statuses.push(reply.status);
      const body = (await reply.json()) as { overallCode: string };
      expect(body.overallCode).toBe("OK");
    }
    expect(statuses).toEqual([200, 200, 200]);
  });

  it("refuses again when SLUICE_SHADOW_MODE=false sits beside SHADOW_MODE=true", async () => {
    const { client } = await serve({ SHADOW_MODE: "true", SLUICE_SHADOW_MODE: "false" });
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await client.shouldRateLimit(call("di")));
    expect(replies.map((r) => r.overall_code)).toEqual(["OK", "OK", "OVER_LIMIT"]);
  });
});
