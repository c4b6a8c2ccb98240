import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RunningEnvoy, startEnvoy } from "../support/envoy.ts";
import { type RecordedCall, type RecordingRls, startRecordingRls } from "../support/recording-rls.ts";
import { abandon, send } from "./http-client.ts";

// What the real Envoy 1.40 on envoy/envoy.yaml sends to the rate-limit service over a request's
// life, recorded by a stand-in service: the proof that concurrency leases can be given back.
// Envoy's rate-limit protocol has no "request finished" call, but a route's rate_limits entry with
// `apply_on_stream_done: true` makes the filter send one more ShouldRateLimit call, carrying only
// those entries, when the stream ends (the filter's onDestroy). These tests pin down when it comes.

const RLS_TIMEOUT_MS = 1_000;
const PRO = { "x-api-key": "demo-initech" };

describe("Envoy's stream-done rate-limit call (apply_on_stream_done)", () => {
  let rls: RecordingRls;
  let envoy: RunningEnvoy;
  let upstream: Server;
  /** x-request-id of every request the upstream saw, in order. */
  const seenIds: string[] = [];

  beforeAll(async () => {
    rls = await startRecordingRls();
    upstream = createServer((req, res) => {
      seenIds.push(String(req.headers["x-request-id"]));
      const delay = Number(new URL(req.url ?? "/", "http://upstream").searchParams.get("delay_ms") ?? 0);
      setTimeout(() => res.end("{}"), delay);
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const { port } = upstream.address() as AddressInfo;
    envoy = await startEnvoy({
      sluice: { host: "127.0.0.1", port: rls.port },
      upstream: { host: "127.0.0.1", port },
      rlsTimeout: `${RLS_TIMEOUT_MS / 1000}s`,
    });
  });
  afterAll(async () => {
    await envoy?.stop();
    await rls?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
  });
  beforeEach(() => {
    rls.calls.length = 0;
    seenIds.length = 0;
    rls.answerWith(() => "ok");
  });

  it("sends the lease with the request, then a second call with only the release, same id, after the response", async () => {
    const reply = await send(`${envoy.url}/v1/leads?delay_ms=200`, { headers: PRO });
    expect(reply.status).toBe(200);
    const id = seenIds[0] ?? "";
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [start, done] = await callsFor(id, 2);
    expect(start?.descriptors).toEqual([
      "tenant=initech,plan=pro",
      "tenant=initech,plan=pro,route=leads",
      "api_key=demo-initech",
      `tenant=initech,plan=pro,lease_acquire=${id}`,
    ]);
    expect(done?.descriptors).toEqual([`tenant=initech,plan=pro,lease_release=${id}`]);
    // Sent when the stream ended, so after the upstream's 200 ms; with the request's own hits_addend.
    expect((done?.atMs ?? 0) - (start?.atMs ?? 0)).toBeGreaterThanOrEqual(190);
    expect(done?.hitsAddend).toBe(start?.hitsAddend);
  });

  it("gives every call Envoy's rate-limit timeout as its deadline", async () => {
    await send(`${envoy.url}/v1/contacts`, { headers: PRO });
    const [start] = await callsFor(seenIds[0] ?? "", 2);
    const budget = (start?.deadlineMs ?? 0) - (start?.atMs ?? 0);
    expect(budget).toBeGreaterThan(RLS_TIMEOUT_MS - 100);
    expect(budget).toBeLessThanOrEqual(RLS_TIMEOUT_MS + 50);
  });

  it("replaces a client's own x-request-id, so a client cannot name another request's lease", async () => {
    await send(`${envoy.url}/v1/leads`, { headers: { ...PRO, "x-request-id": "someone-elses-request" } });
    const id = seenIds[0] ?? "";
    expect(id).not.toBe("someone-elses-request");
    const calls = await callsFor(id, 2);
    expect(calls.flatMap((c) => c.descriptors).join()).not.toContain("someone-elses-request");
  });

  it("sends the release for a request the service refused (429) too", async () => {
    rls.answerWith((descriptors) =>
      descriptors.some((d) => d.includes("lease_acquire")) ? "over_limit" : "ok",
    );
    const reply = await send(`${envoy.url}/v1/leads`, { headers: PRO });
    expect(reply.status).toBe(429);
    expect(seenIds).toEqual([]);
    await until(() => rls.calls.length >= 2);
    const id = /lease_acquire=(.+)$/.exec(rls.calls[0]?.descriptors.at(-1) ?? "")?.[1];
    expect(id).toBeDefined();
    expect(rls.calls[1]?.descriptors).toEqual([`tenant=initech,plan=pro,lease_release=${id}`]);
  });

  it("sends the release as soon as a client goes away mid-response", async () => {
    const started = Date.now();
    await abandon(`${envoy.url}/v1/leads?delay_ms=3000`, PRO, 300);
    await until(() => rls.calls.length >= 2);
    expect(rls.calls[1]?.descriptors[0]).toContain("lease_release=");
    expect((rls.calls[1]?.atMs ?? 0) - started).toBeLessThan(2_000);
  });

  it("cancels a call still unanswered when its client goes away, and then sends no release", async () => {
    rls.answerWith(() => "hang");
    await abandon(`${envoy.url}/v1/leads`, PRO, 300);
    await until(() => rls.calls[0]?.cancelledBeforeAnswerMs !== undefined);
    expect(rls.calls[0]?.cancelledBeforeAnswerMs).toBeGreaterThanOrEqual(250);
    expect(rls.calls[0]?.cancelledBeforeAnswerMs).toBeLessThan(RLS_TIMEOUT_MS);
    await sleep(RLS_TIMEOUT_MS + 500);
    expect(rls.calls).toHaveLength(1);
  });

  it("cancels a call at its timeout and lets the request through (fail open), which then sends the release", async () => {
    rls.answerWith((descriptors) => (descriptors.some((d) => d.includes("lease_acquire")) ? "hang" : "ok"));
    const reply = await send(`${envoy.url}/v1/leads`, { headers: PRO });
    expect(reply.status).toBe(200);
    expect(rls.calls[0]?.cancelledBeforeAnswerMs).toBeGreaterThanOrEqual(RLS_TIMEOUT_MS - 50);
    const [, done] = await callsFor(seenIds[0] ?? "", 2);
    expect(done?.descriptors[0]).toContain("lease_release=");
  });

  it("makes no call for a request the Lua filter answers itself (unknown API key)", async () => {
    expect((await send(`${envoy.url}/v1/leads`, { headers: { "x-api-key": "nobody" } })).status).toBe(401);
    await sleep(300);
    expect(rls.calls).toEqual([]);
  });

  /** The recorded calls that name lease id `id`, once there are `count` of them. */
  async function callsFor(id: string, count: number): Promise<RecordedCall[]> {
    const named = () => rls.calls.filter((c) => c.descriptors.some((d) => d.endsWith(`=${id}`)));
    await until(() => named().length >= count);
    return named();
  }
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}
