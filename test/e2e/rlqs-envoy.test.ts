import type { Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  RateLimitQuotaResponse_BucketAction,
  RateLimitQuotaResponse_BucketAction_QuotaAssignmentAction,
} from "../../src/generated/envoy/service/rate_limit_quota/v3/rlqs.ts";
import type { RateLimitStrategy } from "../../src/generated/envoy/type/v3/ratelimit_strategy.ts";
import { type RunningEnvoy, startEnvoyOnConfig } from "../support/envoy.ts";
import { startUpstream } from "../support/loopback-upstream.ts";
import { type RecordedUsage, type RecordingRlqs, startRecordingRlqs } from "../support/recording-rlqs.ts";
import {
  DENY_BODY,
  RLQS_DOMAIN,
  renderRlqsEnvoyConfig,
  TENANT_HEADER,
} from "../support/rlqs-envoy-config.ts";
import { send } from "./http-client.ts";

// What the real Envoy 1.40's rate_limit_quota filter (work in progress upstream) does with a Rate
// Limit Quota Service, recorded by a stand-in RLQS that pushes assignments on command: the
// behaviours a Sluice RLQS would rely on, and the gaps it must work around. docs/rlqs-findings.md
// has the evidence and what it means. The tests share one Envoy and run in order; each uses tenants
// (buckets) of its own, except the last two, which break and then stop the stream.

/** Envoy 1.40 reports on a hard-coded 5 s timer, whatever the bucket's reporting_interval says. */
const REPORT_TICK_MS = 5_000;
const DENY: RateLimitStrategy = { blanketRule: 1 };
const ALLOW: RateLimitStrategy = { blanketRule: 0 };

describe("Envoy 1.40's rate_limit_quota filter against a recording RLQS", () => {
  let rlqs: RecordingRlqs;
  let envoy: RunningEnvoy;
  let upstream: Server;

  beforeAll(async () => {
    rlqs = await startRecordingRlqs();
    const started = await startUpstream("upstream");
    upstream = started.server;
    const at = (port: number) => ({ host: "127.0.0.1", port });
    const config = renderRlqsEnvoyConfig({
      listener: at(0),
      admin: at(0),
      rlqs: at(rlqs.port),
      upstream: at(started.port),
    });
    // Two workers: the tests show one stream and one token bucket serve both.
    envoy = await startEnvoyOnConfig(config, { concurrency: 2 });
  });
  afterAll(async () => {
    await envoy?.stop();
    await rlqs?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  it("opens one stream on the first bucketed request and reports the new bucket at once", async () => {
    expect((await send(`${envoy.url}/`)).status).toBe(200);
    await sleep(200);
    expect(rlqs.streams).toEqual([]);
    expect(await statuses("first", 1)).toEqual([200]);
    const [report] = await reportsOf("first", 1);
    expect(rlqs.streams).toHaveLength(1);
    expect(report?.domain).toBe(RLQS_DOMAIN);
    // The bucket id's time_elapsed is 0 on a first report (Envoy's own API says it must be > 0).
    expect(report?.usages).toEqual([
      { bucket: { name: "tenant", tenant: "first" }, timeElapsedMs: 0, allowed: 1, denied: 0 },
    ]);
  });

  it("denies a new bucket's first request when no_assignment_behavior is DENY_ALL, with the deny settings", async () => {
    const reply = await send(`${envoy.url}/`, { headers: { [TENANT_HEADER]: "denyfirst-a" } });
    expect(reply.status).toBe(429);
    expect(reply.body).toBe(DENY_BODY);
    const [report] = await reportsOf("denyfirst-a", 1);
    expect(report?.usages[0]).toMatchObject({ allowed: 0, denied: 1 });
  });

  it("applies a pushed DENY_ALL at once, and drops it after its TTL, counted in whole seconds", async () => {
    await subscribe(["deny-ttl", "deny-no-ttl", "deny-ttl-900ms"]);
    push(assign("deny-ttl", DENY, 1_500), assign("deny-no-ttl", DENY), assign("deny-ttl-900ms", DENY, 900));
    await sleep(150);
    expect(await statuses("deny-ttl", 2)).toEqual([429, 429]);
    // An assignment without a TTL, or with one under a second, expires as it arrives (the docs say
    // unset means never): Envoy truncates the TTL to whole seconds.
    expect(await statuses("deny-no-ttl", 2)).toEqual([200, 200]);
    expect(await statuses("deny-ttl-900ms", 2)).toEqual([200, 200]);
    await sleep(1_100);
    expect(await statuses("deny-ttl", 1)).toEqual([200]);
  });

  it("ignores an assignment for a bucket it has not reported", async () => {
    push(assign("never-reported", DENY, 30_000));
    await sleep(150);
    expect(await statuses("never-reported", 2)).toEqual([200, 200]);
  });

  it("limits with a pushed token bucket: starts full, refills at tokens_per_fill per fill_interval", async () => {
    await subscribe(["bucket-3-per-2s", "bucket-no-fill", "bucket-fill-500ms"]);
    push(
      assign("bucket-3-per-2s", tokenBucket(3, 3, 2_000), 30_000),
      assign("bucket-no-fill", tokenBucket(2, undefined, 1_000), 30_000),
      assign("bucket-fill-500ms", tokenBucket(1, 1, 500), 30_000),
    );
    await sleep(150);
    expect(await statuses("bucket-3-per-2s", 5)).toEqual([200, 200, 200, 429, 429]);
    expect(await statuses("bucket-no-fill", 3)).toEqual([200, 200, 429]);
    // A fill_interval under a second is truncated to 0 s, and the rate divided by it: no limit.
    expect(await statuses("bucket-fill-500ms", 4)).toEqual([200, 200, 200, 200]);
    await sleep(1_400);
    // 1.5 tokens a second: two back after ~1.4 s.
    expect(await statuses("bucket-3-per-2s", 3)).toEqual([200, 200, 429]);
    // tokens_per_fill unset refills nothing (the docs say 1).
    expect(await statuses("bucket-no-fill", 1)).toEqual([429]);
  });

  it("shares one token bucket between the workers: exactly max_tokens of a concurrent burst pass", async () => {
    await subscribe(["concurrent"]);
    push(assign("concurrent", tokenBucket(10, 1, 60_000), 30_000));
    await sleep(150);
    const replies = await Promise.all(
      Array.from({ length: 30 }, () => send(`${envoy.url}/`, { headers: { [TENANT_HEADER]: "concurrent" } })),
    );
    expect(replies.filter((reply) => reply.status === 200)).toHaveLength(10);
    expect(replies.filter((reply) => reply.status === 429)).toHaveLength(20);
  });

  it("on expiry applies expired_assignment_behavior's fallback for its timeout; reuse_last_assignment does nothing", async () => {
    await subscribe(["fallback-a", "fallbacknotimeout-a", "reuse-a"]);
    push(
      assign("fallback-a", ALLOW, 1_000),
      assign("fallbacknotimeout-a", ALLOW, 1_000),
      assign("reuse-a", DENY, 1_000),
    );
    await sleep(150);
    expect(await statuses("reuse-a", 1)).toEqual([429]);
    await sleep(1_100);
    // fallback-: DENY_ALL for expired_assignment_behavior_timeout (2 s).
    expect(await statuses("fallback-a", 1)).toEqual([429]);
    // Without a timeout the fallback lasts no time (the docs say: until a new assignment).
    expect(await statuses("fallbacknotimeout-a", 1)).toEqual([200]);
    // reuse_last_assignment is not implemented: the bucket goes back to no_assignment_behavior.
    expect(await statuses("reuse-a", 1)).toEqual([200]);
    await sleep(2_100);
    expect(await statuses("fallback-a", 1)).toEqual([200]);
  });

  it("replaces assignments: the same one re-pushed extends its TTL, the last action for a bucket wins", async () => {
    await subscribe(["extended", "last-wins", "resized"]);
    push(
      assign("extended", DENY, 2_000),
      assign("last-wins", DENY, 30_000),
      assign("last-wins", ALLOW, 30_000),
    );
    push(assign("resized", tokenBucket(2, 2, 2_000), 30_000));
    await sleep(150);
    expect(await statuses("last-wins", 1)).toEqual([200]);
    expect(await statuses("resized", 3)).toEqual([200, 200, 429]);
    // A token bucket of another size takes its new size and rate but keeps the drained level instead
    // of starting full: a server must size an assignment for what remains, not count on a reset.
    push(assign("resized", tokenBucket(4, 4, 2_000), 30_000));
    await sleep(150);
    expect(await statuses("resized", 1)).toEqual([429]);
    await sleep(1_150);
    push(assign("extended", DENY, 2_000));
    await sleep(1_000);
    expect(await statuses("extended", 1)).toEqual([429]);
    // ~2.3 s at 2 tokens a second, capped at the new max_tokens 4.
    expect(await statuses("resized", 5)).toEqual([200, 200, 200, 200, 429]);
  });

  it("abandon_action forgets the bucket: the next request subscribes anew under no_assignment_behavior", async () => {
    await subscribe(["denyfirst-b"]);
    push(assign("denyfirst-b", ALLOW, 30_000));
    await sleep(150);
    expect(await statuses("denyfirst-b", 1)).toEqual([200]);
    push({ bucketId: bucketOf("denyfirst-b"), abandonAction: {} });
    await sleep(150);
    expect(await statuses("denyfirst-b", 1)).toEqual([429]);
    const reports = await reportsOf("denyfirst-b", 2);
    expect(reports[1]?.usages).toEqual([
      { ...usageOf("denyfirst-b"), timeElapsedMs: 0, allowed: 0, denied: 1 },
    ]);
  });

  it("reports every bucket on a 5 s tick, usage since the last report, time_elapsed in whole seconds", async () => {
    const from = rlqs.reports.length;
    const periodic = () => rlqs.reports.slice(from).find((report) => report.usages.length > 1);
    await until(() => periodic() !== undefined, REPORT_TICK_MS + 1_000);
    const tenants = periodic()?.usages.map((usage) => usage.bucket.tenant);
    expect(tenants).toEqual(
      expect.arrayContaining(["first", "denyfirst-a", "concurrent", "fallback-a", "reuse-a"]),
    );
    for (const usage of periodic()?.usages ?? []) expect(usage.timeElapsedMs % 1_000).toBe(0);
    // Across its reports, the concurrent bucket's usage adds up to what the clients saw.
    const concurrent = rlqs.reports
      .flatMap((report) => report.usages)
      .filter((usage) => usage.bucket.tenant === "concurrent");
    expect(concurrent.reduce((sum, usage) => sum + usage.allowed, 0)).toBe(11);
    expect(concurrent.reduce((sum, usage) => sum + usage.denied, 0)).toBe(20);
    // Every message Envoy sent re-encodes to its own bytes with Sluice's protos: no field unknown to them.
    expect(rlqs.reports.every((report) => report.reencodesExactly)).toBe(true);
    expect(new Set(rlqs.reports.map((report) => report.stream))).toEqual(new Set([1]));
  });

  it("keeps its assignments when the stream breaks, reopens it on the next tick and reports every bucket", async () => {
    await subscribe(["kept"]);
    push(assign("kept", DENY, 30_000));
    await sleep(150);
    rlqs.breakStreams();
    expect(await statuses("kept", 1)).toEqual([429]);
    await until(() => rlqs.reports.some((report) => report.stream === 2), REPORT_TICK_MS + 1_000);
    const first = rlqs.reports.find((report) => report.stream === 2);
    expect(first?.domain).toBe(RLQS_DOMAIN);
    expect(first?.usages.map((usage) => usage.bucket.tenant)).toEqual(
      expect.arrayContaining(["kept", "first"]),
    );
    expect(await statuses("kept", 1)).toEqual([429]);
    push(assign("kept", ALLOW, 30_000));
    await sleep(150);
    expect(await statuses("kept", 1)).toEqual([200]);
  });

  it("with the service down: keeps deciding locally, loses the usage, reconnects to a restarted service", async () => {
    const { port } = rlqs;
    await rlqs.stop();
    expect(await statuses("down-new", 2)).toEqual([200, 200]);
    expect(await statuses("denyfirst-down", 1)).toEqual([429]);
    expect(await statuses("kept", 1)).toEqual([200]);
    await sleep(REPORT_TICK_MS);
    rlqs = await startRecordingRlqs({ port });
    await until(() => rlqs.reports.length > 0, REPORT_TICK_MS + 1_000);
    const [report] = rlqs.reports;
    // The buckets made while it was down are there, but their usage went with the failed reports.
    expect(report?.usages).toEqual(
      expect.arrayContaining([
        { ...usageOf("down-new"), timeElapsedMs: expect.any(Number), allowed: 0, denied: 0 },
      ]),
    );
    expect(report?.usages.map((usage) => usage.bucket.tenant)).toContain("denyfirst-down");
  });

  async function statuses(tenant: string, count: number): Promise<number[]> {
    const seen: number[] = [];
    for (let i = 0; i < count; i++) {
      seen.push((await send(`${envoy.url}/`, { headers: { [TENANT_HEADER]: tenant } })).status);
    }
    return seen;
  }

  /** One request per tenant, so Envoy creates the buckets and reports them (an assignment needs that). */
  async function subscribe(tenants: string[]): Promise<void> {
    for (const tenant of tenants) await statuses(tenant, 1);
    for (const tenant of tenants) await reportsOf(tenant, 1);
  }

  /** The reports naming only this tenant's bucket, once there are `count`. */
  async function reportsOf(tenant: string, count: number) {
    const own = () =>
      rlqs.reports.filter(
        (report) => report.usages.length === 1 && report.usages[0]?.bucket.tenant === tenant,
      );
    await until(() => own().length >= count);
    return own();
  }

  function push(...actions: RateLimitQuotaResponse_BucketAction[]): void {
    expect(rlqs.push(actions)).toBe(1);
  }
});

function bucketOf(tenant: string) {
  return { bucket: { name: "tenant", tenant } };
}

function usageOf(tenant: string): Pick<RecordedUsage, "bucket"> {
  return bucketOf(tenant);
}

function assign(
  tenant: string,
  strategy: RateLimitStrategy,
  ttlMs?: number,
): RateLimitQuotaResponse_BucketAction {
  const action: RateLimitQuotaResponse_BucketAction_QuotaAssignmentAction = { rateLimitStrategy: strategy };
  if (ttlMs !== undefined) action.assignmentTimeToLive = duration(ttlMs);
  return { bucketId: bucketOf(tenant), quotaAssignmentAction: action };
}

function tokenBucket(
  maxTokens: number,
  tokensPerFill: number | undefined,
  fillIntervalMs: number,
): RateLimitStrategy {
  return { tokenBucket: { maxTokens, tokensPerFill, fillInterval: duration(fillIntervalMs) } };
}

function duration(ms: number) {
  return { seconds: Math.floor(ms / 1_000), nanos: (ms % 1_000) * 1_000_000 };
}

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}
