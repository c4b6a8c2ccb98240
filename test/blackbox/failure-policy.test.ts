import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth } from "../support/health-client.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";
import { callOutcome } from "../support/steady-load.ts";

const POLICIES = "test/fixtures/reliability";
const run = `${process.pid}-${Date.now()}`;
const call = (domain: string, key: "user" | "strict", value: string) => ({
  domain,
  descriptors: [{ entries: [{ key, value: `${run}-${value}` }] }],
});

const outcome = (client: RlsClient, request: ReturnType<typeof call>) => callOutcome(client, request, 2_000);

describe("failure policies with Redis down", () => {
  let redis: RedisServer;
  let strict: SluiceProcess;
  let lenient: SluiceProcess;
  /** Only the domain that follows the service's `unavailable`: nothing it could answer without Redis. */
  let onlyDefault: SluiceProcess;
  let strictClient: RlsClient;
  let lenientClient: RlsClient;

  beforeAll(async () => {
    redis = await startRedis();
    // The service default stays `unavailable` here; rel-allow, rel-deny and rel-local set their own.
    strict = await startSluice(["--policy", POLICIES, "--redis-url", redis.url, "--expected-instances", "2"]);
    lenient = await startSluice([
      "--policy",
      POLICIES,
      "--redis-url",
      redis.url,
      "--failure-policy",
      "allow",
    ]);
    onlyDefault = await startSluice(["--policy", `${POLICIES}/default.yaml`, "--redis-url", redis.url]);
    strictClient = createRlsClient(strict.grpcAddress);
    lenientClient = createRlsClient(lenient.grpcAddress);
  });

  afterAll(async () => {
    strictClient?.close();
    lenientClient?.close();
    await strict?.stop();
    await lenient?.stop();
    await onlyDefault?.stop();
    await redis?.stop();
  });

  it("decides with Redis while it is up, in every domain", async () => {
    for (const domain of ["rel-default", "rel-allow", "rel-deny", "rel-local"]) {
      expect(await outcome(strictClient, call(domain, "user", "up"))).toBe("OK+headers");
    }
    await expect.poll(() => checkHealth(strict.grpcAddress, "")).toBe("SERVING");
    await expect.poll(() => checkHealth(onlyDefault.grpcAddress, "")).toBe("SERVING");
  });

  it("answers each domain per its failure policy once Redis is gone, and the process keeps running", async () => {
    const port = redis.port;
    await redis.stop();

    expect(await outcome(strictClient, call("rel-default", "user", "down"))).toBe("UNAVAILABLE:store");
    expect(await outcome(strictClient, call("rel-allow", "user", "down"))).toBe("OK");
    expect(await outcome(strictClient, call("rel-deny", "user", "down"))).toBe("OVER_LIMIT");
    // rel-local: 4 per minute shared by 2 expected instances leaves 2 here, decided with headers.
    const local = [];
    for (let i = 0; i < 3; i++) local.push(await outcome(strictClient, call("rel-local", "strict", "down")));
    expect(local).toEqual(["OK+headers", "OK+headers", "OVER_LIMIT+headers"]);
    // The service default applies to domains without their own policy.
    expect(await outcome(lenientClient, call("rel-default", "user", "down"))).toBe("OK");
    expect(await outcome(lenientClient, call("rel-deny", "user", "down"))).toBe("OVER_LIMIT");

    // Health follows "can answer per policy": NOT_SERVING only where no domain answers without the
    // store. `strict` defaults to unavailable but rel-allow, rel-deny and rel-local still answer.
    await expect.poll(() => checkHealth(onlyDefault.grpcAddress, ""), { timeout: 5_000 }).toBe("NOT_SERVING");
    // Once `strict` has seen the store down too, it still serves.
    await expect
      .poll(
        async () => (await (await fetch(`${strict.adminUrl}/metrics`)).text()).includes("sluice_store_up 0"),
        {
          timeout: 5_000,
        },
      )
      .toBe(true);
    expect(await checkHealth(strict.grpcAddress, "")).toBe("SERVING");
    expect(await checkHealth(lenient.grpcAddress, "")).toBe("SERVING");

    const metrics = await (await fetch(`${strict.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/sluice_store_fallbacks_total\{policy="deny",reason="[a-z_]+"\} [1-9]/);
    expect(metrics).toMatch(/sluice_store_fallbacks_total\{policy="local",reason="[a-z_]+"\} [1-9]/);

    redis = await startRedis({ port });
  });

  it("goes back to deciding with Redis once it returns", async () => {
    await expect
      .poll(() => outcome(strictClient, call("rel-default", "user", "back")), {
        timeout: 10_000,
        interval: 50,
      })
      .toBe("OK+headers");
    expect(await outcome(strictClient, call("rel-deny", "user", "back"))).toBe("OK+headers");
    await expect.poll(() => checkHealth(onlyDefault.grpcAddress, ""), { timeout: 5_000 }).toBe("SERVING");
    // Real counters again: the strict limit is 4 for the whole cluster, not the local share of 2.
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push(await outcome(strictClient, call("rel-local", "strict", "back")));
    expect(codes).toEqual(["OK+headers", "OK+headers", "OK+headers", "OK+headers", "OVER_LIMIT+headers"]);
  });
});
