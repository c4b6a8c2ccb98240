import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awayFromMinuteEnd } from "../support/minute-slot.ts";
import { startRedis, startRedisCluster } from "../support/redis-server.ts";
import {
  createRlsClient,
  headersOf,
  type RlsClient,
  type RlsDescriptor,
  type RlsReply,
} from "../support/rls-client.ts";
import { type SluiceProcess, startSluice } from "../support/sluice-process.ts";

const FEATURES = "test/fixtures/policies/features.yaml";

// Every policy feature through the real gRPC edge on the embedded store, one Redis and a 3-node
// Redis Cluster: the answers must not depend on the backend.
describe.each(["memory", "redis", "redis-cluster"] as const)(
  "policy features over gRPC (%s store)",
  (backend) => {
    let redis: { stop(): Promise<void> } | undefined;
    let sluice: SluiceProcess;
    let client: RlsClient;
    let seq = 0;
    /** A value no other test uses, so each test starts from fresh counters. */
    const fresh = (prefix: string) => `${prefix}-${backend}-${Date.now()}-${seq++}`;

    beforeAll(async () => {
      const storeArgs: string[] = [];
      if (backend === "redis") {
        const server = await startRedis();
        redis = server;
        storeArgs.push("--redis-url", server.url);
      } else if (backend === "redis-cluster") {
        const cluster = await startRedisCluster();
        redis = cluster;
        storeArgs.push("--redis-cluster", cluster.nodes.join(","));
      }
      sluice = await startSluice(["--policy", FEATURES, ...storeArgs]);
      client = createRlsClient(sluice.grpcAddress);
    });

    afterAll(async () => {
      client?.close();
      await sluice?.stop();
      await redis?.stop();
    });

    const entry = (key: string, value: string) => ({ key, value });
    const call = (descriptors: RlsDescriptor[], hits_addend = 0): Promise<RlsReply> =>
      client.shouldRateLimit({ domain: "features", descriptors, hits_addend });
    const one = (key: string, value: string, extra: Partial<RlsDescriptor> = {}) =>
      call([{ entries: [entry(key, value)], ...extra }]);
    const codes = async (n: number, send: () => Promise<RlsReply>) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((await send()).overall_code);
      return out;
    };

    it.each([
      ["second", 1],
      ["minute", 60],
      ["hour", 3_600],
      ["day", 86_400],
      ["week", 604_800],
      ["month", 2_592_000],
      ["year", 31_536_000],
    ])("enforces a %s window (2 per unit) and reports it", async (unit, seconds) => {
      expect(await codes(2, () => one("unit", unit))).toEqual(["OK", "OK"]);
      const refused = await one("unit", unit);
      expect(refused.overall_code).toBe("OVER_LIMIT");
      const status = refused.statuses[0];
      expect(status?.current_limit).toMatchObject({ requests_per_unit: 2, unit: unit.toUpperCase() });
      expect(Number(status?.duration_until_reset?.seconds)).toBeLessThanOrEqual(seconds);
    });

    it("shadow mode answers OK past the limit but still counts and reports the window", async () => {
      const value = fresh("shadow");
      expect(await codes(4, () => one("shadow", value))).toEqual(["OK", "OK", "OK", "OK"]);
      const last = await one("shadow", value);
      expect(last.statuses[0]).toMatchObject({
        code: "OK",
        limit_remaining: 0,
        current_limit: { name: "shadow_per_minute", requests_per_unit: 2 },
      });
      // Headers describe enforced windows only, so a shadow rule adds none.
      expect(last.response_headers_to_add).toEqual([]);
      const metrics = await (await fetch(`${sluice.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(
        /sluice_decisions_total\{[^}]*rule="shadow_per_minute"[^}]*code="OVER_LIMIT"[^}]*\} [1-9]/,
      );
      expect(metrics).toMatch(/sluice_shadow_over_limit_total\{[^}]*rule="shadow_per_minute"[^}]*\} [1-9]/);
    });

    it("replaces: the overriding limit applies and the replaced one is neither checked nor counted", async () => {
      const value = fresh("replace");
      const both = () =>
        call([{ entries: [entry("replace_base", value)] }, { entries: [entry("replace_override", value)] }]);
      expect(await codes(5, both)).toEqual(["OK", "OK", "OK", "OK", "OK"]);
      const refused = await both();
      expect(refused.overall_code).toBe("OVER_LIMIT");
      expect(refused.statuses[1]?.current_limit?.name).toBe("override_limit");
      const baseAlone = await one("replace_base", value);
      expect(baseAlone.overall_code).toBe("OK");
      expect(baseAlone.statuses[0]).toMatchObject({
        limit_remaining: 1,
        current_limit: { name: "base_limit" },
      });
    });

    it("replaces on an unlimited rule drops the named limit, which is neither checked nor counted", async () => {
      const value = fresh("replace-unlimited");
      const both = () =>
        call([{ entries: [entry("replace_base", value)] }, { entries: [entry("replace_unlimited", value)] }]);
      expect(await codes(3, both)).toEqual(["OK", "OK", "OK"]);
      const last = await both();
      expect(last.statuses[0]).toMatchObject({ code: "OK", current_limit: null });
      expect(last.statuses[1]).toMatchObject({
        code: "OK",
        current_limit: null,
        limit_remaining: 4294967295,
      });
      const baseAlone = await one("replace_base", value);
      expect(baseAlone.statuses[0]).toMatchObject({
        limit_remaining: 1,
        current_limit: { name: "base_limit" },
      });
    });

    it("a value spelling a wildcard's pattern matches that rule before earlier wildcards", async () => {
      const literal = await one("literal", "lit-b*");
      expect(literal.statuses[0]?.current_limit).toMatchObject({ name: "literal_b", requests_per_unit: 3 });
      const other = await one("literal", `lit-b${fresh("x")}`);
      expect(other.statuses[0]?.current_limit).toMatchObject({ name: "literal_any", requests_per_unit: 2 });
    });

    it("wildcard values keep one counter per matched value; non-matching values are not limited", async () => {
      const a = `/v1/${fresh("a")}`;
      expect(await codes(4, () => one("path", a))).toEqual(["OK", "OK", "OK", "OVER_LIMIT"]);
      expect((await one("path", `/v1/${fresh("b")}`)).overall_code).toBe("OK");
      const unmatched = await one("path", `/v2/${fresh("c")}`);
      expect(unmatched.overall_code).toBe("OK");
      expect(unmatched.statuses[0]?.current_limit).toBeNull();
    });

    it("share_threshold makes every value matching the wildcard share one counter", async () => {
      // The shared counter is keyed on the pattern, so this test owns it for the process's lifetime.
      expect(await one("shared", "team-a").then((r) => r.overall_code)).toBe("OK");
      expect(await one("shared", "team-b").then((r) => r.overall_code)).toBe("OK");
      expect(await one("shared", "team-c").then((r) => r.overall_code)).toBe("OVER_LIMIT");
    });

    it("request hits_addend sets the cost of every descriptor", async () => {
      const path = `/v1/${fresh("hits")}`;
      const first = await call([{ entries: [entry("path", path)] }], 2);
      expect(first.overall_code).toBe("OK");
      expect(first.statuses[0]?.limit_remaining).toBe(1);
      expect((await call([{ entries: [entry("path", path)] }], 2)).overall_code).toBe("OVER_LIMIT");
    });

    it("a descriptor's own hits_addend wins over the request's; 0 checks without consuming", async () => {
      const path = `/v1/${fresh("own-hits")}`;
      const check = await call([{ entries: [entry("path", path)], hits_addend: { value: 0 } }], 3);
      expect(check.overall_code).toBe("OK");
      expect(check.statuses[0]?.limit_remaining).toBe(3);
      const three = await call([{ entries: [entry("path", path)], hits_addend: { value: 3 } }], 1);
      expect(three.overall_code).toBe("OK");
      expect(three.statuses[0]?.limit_remaining).toBe(0);
    });

    it("a descriptor's own limit replaces the configured one", async () => {
      const value = fresh("override");
      const limit = { requests_per_unit: 1, unit: "HOUR" };
      const first = await one("whitelist", value, { limit });
      expect(first.overall_code).toBe("OK");
      expect(first.statuses[0]?.current_limit).toMatchObject({ requests_per_unit: 1, unit: "HOUR" });
      expect((await one("whitelist", value, { limit })).overall_code).toBe("OVER_LIMIT");
    });

    it("quota mode never refuses: over its limit a quota descriptor answers OK, nothing left, no reset", async () => {
      await awayFromMinuteEnd(); // every call below within one minute slot
      const spent = fresh("quota-spent");
      expect(await codes(2, () => one("quota", spent))).toEqual(["OK", "OK"]);
      const over = await one("quota", spent);
      expect(over.overall_code).toBe("OK");
      expect(over.statuses[0]).toMatchObject({
        code: "OK",
        current_limit: { name: "quota_per_minute", requests_per_unit: 2 },
        limit_remaining: 0,
        duration_until_reset: null,
      });
      // It holds no one back, so no header describes it: no Retry-After on an OK answer.
      expect(over.response_headers_to_add).toEqual([]);

      // Beside an enforced descriptor within its limit: OK, the headers describe the enforced one.
      const path = `/v1/${fresh("quota-path")}`;
      const both = () => call([{ entries: [entry("quota", spent)] }, { entries: [entry("path", path)] }]);
      const passed = await both();
      expect(passed.overall_code).toBe("OK");
      expect(passed.statuses.map((s) => [s.code, s.limit_remaining])).toEqual([
        ["OK", 0],
        ["OK", 2],
      ]);
      expect(headersOf(passed.response_headers_to_add)).toMatchObject({
        "x-ratelimit-limit": "3",
        "x-ratelimit-remaining": "2",
      });

      // Only the enforced descriptor refuses, and only its window sets Retry-After.
      expect(await codes(2, () => one("path", path))).toEqual(["OK", "OK"]);
      const refused = await both();
      expect(refused.overall_code).toBe("OVER_LIMIT");
      expect(refused.statuses.map((s) => s.code)).toEqual(["OK", "OVER_LIMIT"]);
      expect(refused.statuses[0]?.duration_until_reset).toBeNull();
      expect(headersOf(refused.response_headers_to_add)).toMatchObject({ "x-ratelimit-limit": "3" });
      expect(headersOf(refused.response_headers_to_add)["retry-after"]).toBeDefined();
    });

    it("a quota descriptor over its limit is still counted", async () => {
      await awayFromMinuteEnd();
      const value = fresh("quota-counted");
      const spend = (hits: number) => one("quota", value, { hits_addend: { value: hits } });
      expect((await spend(1)).statuses[0]?.limit_remaining).toBe(1);
      expect((await spend(3)).statuses[0]).toMatchObject({ code: "OK", duration_until_reset: null });
      // Uncounted, the 3 would leave room for 1 more (1 + 1 <= 2); counted, 4 + 1 is still over.
      expect((await spend(1)).statuses[0]).toMatchObject({
        code: "OK",
        limit_remaining: 0,
        duration_until_reset: null,
      });
    });

    it("a shadow + quota descriptor reports as shadow: OK with its reset, counted as shadow", async () => {
      const spent = fresh("quota-spent");
      expect(await codes(2, () => one("quota", spent))).toEqual(["OK", "OK"]);
      const shadow = fresh("quota-shadow");
      const mixed = () =>
        call([{ entries: [entry("quota", spent)] }, { entries: [entry("quota_shadow", shadow)] }]);
      expect(await codes(3, mixed)).toEqual(["OK", "OK", "OK"]);
      const last = await mixed();
      expect(last.overall_code).toBe("OK");
      expect(last.statuses.map((s) => s.code)).toEqual(["OK", "OK"]);
      expect(last.statuses[1]).toMatchObject({
        limit_remaining: 0,
        current_limit: { name: "quota_shadow_per_minute", requests_per_unit: 2 },
      });
      expect(last.statuses[1]?.duration_until_reset).not.toBeNull();
      const metrics = await (await fetch(`${sluice.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(
        /sluice_shadow_over_limit_total\{[^}]*rule="quota_shadow_per_minute"[^}]*\} [1-9]/,
      );
    });

    it("count_rejected: false leaves refused requests out of the counter", async () => {
      await awayFromMinuteEnd(); // the expected Retry-After below assumes one minute slot
      const value = fresh("uncounted");
      expect(await codes(7, () => one("count_rejected_off", value))).toEqual([
        "OK",
        "OK",
        "OVER_LIMIT",
        "OVER_LIMIT",
        "OVER_LIMIT",
        "OVER_LIMIT",
        "OVER_LIMIT",
      ]);
      const refused = await one("count_rejected_off", value);
      const status = refused.statuses[0];
      const untilResetMs =
        Number(status?.duration_until_reset?.seconds) * 1000 +
        (status?.duration_until_reset?.nanos ?? 0) / 1e6;
      // The slot still holds 2 hits, not 8: the request passes once 2·(1 − f) + 1 ≤ 2, half-way into the
      // next minute. Had refusals counted, it would be 8·(1 − f) + 1 ≤ 2, seven eighths in.
      expect(Number(headersOf(refused.response_headers_to_add)["retry-after"])).toBe(
        Math.ceil((untilResetMs + 30_000) / 1000),
      );
    });

    it("unlimited and whitelisted descriptors answer OK with no current limit", async () => {
      const unlimited = await one("unlimited", fresh("u"));
      expect(unlimited.statuses[0]).toMatchObject({
        code: "OK",
        current_limit: null,
        limit_remaining: 4294967295,
      });
      const whitelisted = await one("whitelist", fresh("w"));
      expect(whitelisted.statuses[0]).toMatchObject({ code: "OK", current_limit: null });
    });

    it("adds up a counter named twice in one request before deciding (3 per minute, 2 + 2)", async () => {
      const value = fresh("twice");
      const twice = { entries: [entry("path", `/v1/${value}`)], hits_addend: { value: 2 } };
      const reply = await call([twice, twice]);
      expect(reply.overall_code).toBe("OVER_LIMIT");
      expect(reply.statuses.map((s) => s.code)).toEqual(["OK", "OVER_LIMIT"]);
      // count_rejected: both charges landed (4 of 3), so one more hit is refused too.
      expect((await one("path", `/v1/${value}`)).overall_code).toBe("OVER_LIMIT");
    });

    it("adds up two values of one share_threshold pool in one request", async () => {
      // pool_once is used by this test alone: its one counter is fresh in each backend's store.
      const reply = await call([
        { entries: [entry("pool_once", "p-a")] },
        { entries: [entry("pool_once", "p-b")] },
        { entries: [entry("pool_once", "p-c")] },
      ]);
      // The pool allows 2 per minute: the third value of the same pool is the third hit.
      expect(reply.overall_code).toBe("OVER_LIMIT");
      expect(reply.statuses.map((s) => s.code)).toEqual(["OK", "OK", "OVER_LIMIT"]);
    });
  },
);
