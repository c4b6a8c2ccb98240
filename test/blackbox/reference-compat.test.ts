import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrape, seriesValue } from "../support/metrics-text.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { createRlsClient, type RlsClient } from "../support/rls-client.ts";
import { logLines, runSluice, type SluiceProcess, startSluice } from "../support/sluice-process.ts";

/**
 * Drop-in compatibility with envoyproxy/ratelimit seen from outside: its configs load (leniently
 * where it is lenient, with warnings), its HTTP endpoints answer, and its stat names are scraped.
 */

const FIXTURES = "test/fixtures/policies";
const POLL = { timeout: 10_000, interval: 100 };

describe("sluice check on configs the reference loads leniently", () => {
  it("exits 0 and prints one WARNING line per leniency, naming file and key path", async () => {
    const files = [
      "warn-duplicate-key.yaml",
      "warn-missing-requests-per-unit.yaml",
      "warn-second-document.yaml",
      "warn-share-threshold-key.yaml",
    ].map((name) => `${FIXTURES}/${name}`);
    const results = await Promise.all(files.map((file) => runSluice(["check", file])));
    results.forEach((result, i) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^lenient: 1 rule /);
      expect(result.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(new RegExp(`^WARNING: ${files[i]}: \\S+.*: `)),
      ]);
    });
  });

  it("merges files of one domain with MERGE_DOMAIN_CONFIG=true, and refuses them without", async () => {
    const files = [`${FIXTURES}/dup-domain-a.yaml`, `${FIXTURES}/dup-domain-b.yaml`];
    const merged = await runSluice(["check", ...files], { MERGE_DOMAIN_CONFIG: "true" });
    expect(merged.code).toBe(0);
    expect(merged.stdout.trim()).toBe(`dup: 2 rules (${files.join(", ")})`);
    const flagged = await runSluice(["check", "--merge-domain-config", "true", ...files]);
    expect(flagged.code).toBe(0);
    const refused = await runSluice(["check", ...files]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("duplicate domain 'dup'");
  });
});

describe("sluice serve on configs the reference loads leniently", () => {
  let dir: string;
  let sluice: SluiceProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-compat-"));
    await writeFile(
      join(dir, "a.yaml"),
      "domain: merged\ndescriptors:\n  - key: a\n    rate_limit: { unit: minute }\n",
    );
    await writeFile(join(dir, "b.yaml"), "domain: merged\ndescriptors:\n  - key: b\n");
    sluice = await startSluice(["--policy", dir], { MERGE_DOMAIN_CONFIG: "true" });
  });
  afterAll(async () => {
    await sluice?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("starts on merged files and logs each warning with its file and path", () => {
    const warnings = logLines(sluice).filter((line) => line.msg === "policy loaded with a warning");
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 40,
        generation: 1,
        file: join(dir, "a.yaml"),
        path: "descriptors[0].rate_limit.requests_per_unit",
      }),
    ]);
  });

  it("logs the warnings of a reload too", async () => {
    await writeFile(join(dir, "b.yaml"), "domain: merged\ndescriptors:\n  - key: b\n    key: c\n");
    await expect
      .poll(
        () =>
          logLines(sluice).filter(
            (line) => line.msg === "policy loaded with a warning" && line.path === "descriptors[0].key",
          ).length,
        POLL,
      )
      .toBeGreaterThan(0);
  });
});

const STATS_POLICY = `domain: mongo_cps
descriptors:
  - key: database
    value: users
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: message_type
    value: marketing
    descriptors:
      - key: to_number
        shadow_mode: true
        rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: remote_address
    detailed_metric: true
    rate_limit: { unit: minute, requests_per_unit: 100 }
`;

describe("envoyproxy/ratelimit's stat names on /metrics", () => {
  let dir: string;
  let sluice: SluiceProcess;
  let client: RlsClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-stats-"));
    await writeFile(join(dir, "mongo.yaml"), STATS_POLICY);
    sluice = await startSluice(["--policy", dir]);
    client = createRlsClient(sluice.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await sluice?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (...entries: [string, string][]) =>
    client.shouldRateLimit({
      domain: "mongo_cps",
      descriptors: [{ entries: entries.map(([key, value]) => ({ key, value })) }],
    });

  it("counts each rule's hits under the reference's Prometheus names, labelled by key path, not request values", async () => {
    for (let i = 0; i < 3; i++) await call(["database", "users"]);
    // The same number twice (its own counter, over the shadow limit of 1), then another number.
    for (const n of ["555-0001", "555-0001", "555-0002"])
      await call(["message_type", "marketing"], ["to_number", n]);
    const text = await scrape(sluice.adminUrl);
    const users = 'domain="mongo_cps",key1="database_users",key2=""';
    const marketing = 'domain="mongo_cps",key1="message_type_marketing",key2="to_number"';
    expect(seriesValue(text, `ratelimit_service_rate_limit_total_hits{${users}}`)).toBe(3);
    expect(seriesValue(text, `ratelimit_service_rate_limit_within_limit{${users}}`)).toBe(2);
    expect(seriesValue(text, `ratelimit_service_rate_limit_over_limit{${users}}`)).toBe(1);
    expect(seriesValue(text, `ratelimit_service_rate_limit_total_hits{${marketing}}`)).toBe(3);
    expect(seriesValue(text, `ratelimit_service_rate_limit_shadow_mode{${marketing}}`)).toBe(1);
    // Two phone numbers, one series: request values stay out of the labels.
    expect(text).not.toContain("555-000");
  });

  it("puts request values in only under detailed_metric, sanitized as the reference does", async () => {
    await call(["remote_address", "10.0.0.1"]);
    const text = await scrape(sluice.adminUrl);
    expect(
      seriesValue(
        text,
        'ratelimit_service_rate_limit_total_hits{domain="mongo_cps",key1="remote_address_10_0_0_1",key2=""}',
      ),
    ).toBe(1);
  });
});

const JSON_POLICY = `domain: dummy
descriptors:
  - key: perday
    rate_limit: { unit: day, requests_per_unit: 2 }
  - key: burst
    rate_limit: { unit: day, requests_per_unit: 5 }
  - key: shadowed
    shadow_mode: true
    rate_limit: { unit: minute, requests_per_unit: 0 }
`;

/**
 * The same answers whether the admin port's own process decides, or (under `--workers N`, the
 * default with Redis) the primary relays each request to a worker (cluster-questions.ts).
 */
const SETUPS = [
  { setup: "in one process on the memory store", workers: false },
  { setup: "under --workers 2 on Redis", workers: true },
];

describe.each(SETUPS)("the reference's HTTP surface on the admin port, $setup", ({ workers }) => {
  let dir: string;
  let redis: RedisServer | undefined;
  let sluice: SluiceProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-json-"));
    await writeFile(join(dir, "dummy.yaml"), JSON_POLICY);
    redis = workers ? await startRedis() : undefined;
    const store = redis ? ["--redis-url", redis.url, "--workers", "2"] : [];
    sluice = await startSluice(["--policy", dir, ...store]);
  });
  afterAll(async () => {
    await sluice?.stop();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const post = (body: string) => fetch(`${sluice.adminUrl}/json`, { method: "POST", body });
  const entry = (key: string, value: string) =>
    JSON.stringify({ domain: "dummy", descriptors: [{ entries: [{ key, value }] }] });
  const perday = (value: string) => entry("perday", value);

  it("decides for real, counting hits: 200 while within the limit, then 429, in protojson", async () => {
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const response = await post(perday("a"));
      answers.push({
        status: response.status,
        type: response.headers.get("content-type"),
        cache: response.headers.get("cache-control"),
        json: await response.json(),
      });
    }
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[0]?.type).toBe("application/json");
    expect(answers.map((a) => a.cache)).toEqual(["no-store", "no-store", "no-store"]);
    expect(answers[0]?.json).toEqual({
      overallCode: "OK",
      statuses: [
        {
          code: "OK",
          currentLimit: { requestsPerUnit: 2, unit: "DAY" },
          limitRemaining: 1,
          durationUntilReset: expect.stringMatching(/^\d+(\.\d{3})?s$/),
        },
      ],
      responseHeadersToAdd: expect.any(Array),
    });
    expect(answers[2]?.json).toMatchObject({
      overallCode: "OVER_LIMIT",
      statuses: [{ code: "OVER_LIMIT", currentLimit: { requestsPerUnit: 2, unit: "DAY" } }],
    });
    // The same counter as gRPC: the decisions show in the metrics too (under --workers, the
    // worker that decided counts it and the primary sums the workers).
    const text = await scrape(sluice.adminUrl);
    expect(seriesValue(text, 'sluice_requests_total{domain="dummy",code="OVER_LIMIT"}')).toBe(1);
    expect(seriesValue(text, 'sluice_requests_total{domain="dummy",code="OK"}')).toBe(2);
  });

  it("holds the limit exactly when calls arrive together", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 12 }, async () => (await post(entry("burst", "together"))).status),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
  });

  it("takes the .proto's field names too, and answers 200 for what nothing limits", async () => {
    const response = await post(
      '{"domain":"dummy","descriptors":[{"entries":[{"key":"other"}],"hits_addend":"3"}]}',
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ overallCode: "OK", statuses: [{ code: "OK" }] });
  });

  it.each([
    ["not JSON", "not json"],
    ["an empty domain", '{"domain":"","descriptors":[{"entries":[{"key":"perday"}]}]}'],
    ["no descriptors", '{"domain":"dummy","descriptors":[]}'],
  ])("answers 400 for %s, as the reference does", async (_name, body) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toMatch(/^Bad Request: /);
  });

  it("answers 413 to a body over 64 KiB, counted as an invalid argument", async () => {
    const invalid = 'sluice_call_errors_total{kind="invalid_argument"}';
    const before = seriesValue(await scrape(sluice.adminUrl), invalid) ?? 0;
    const response = await post(perday("x".repeat(70_000)));
    expect(response.status).toBe(413);
    expect(await response.text()).toBe("Payload Too Large: body over 65536 bytes\n");
    expect(seriesValue(await scrape(sluice.adminUrl), invalid)).toBe(before + 1);
  });

  it("answers 405 to other methods, naming the one allowed", async () => {
    const json = await fetch(`${sluice.adminUrl}/json`);
    expect(json.status).toBe(405);
    expect(json.headers.get("allow")).toBe("POST");
    expect(await json.text()).toBe("POST a ShouldRateLimit request as JSON\n");
    const rlconfig = await fetch(`${sluice.adminUrl}/rlconfig`, { method: "POST", body: "{}" });
    expect(rlconfig.status).toBe(405);
    expect(rlconfig.headers.get("allow")).toBe("GET");
    expect(await rlconfig.text()).toBe("GET /rlconfig\n");
  });

  it("lists the live rules at /rlconfig, HEAD too, and follows a reload", async () => {
    const dump = async () => (await fetch(`${sluice.adminUrl}/rlconfig`)).text();
    const listed =
      "dummy.perday: unit=DAY requests_per_unit=2, shadow_mode: false, quota_mode: false\n" +
      "dummy.burst: unit=DAY requests_per_unit=5, shadow_mode: false, quota_mode: false\n" +
      "dummy.shadowed: unit=MINUTE requests_per_unit=0, shadow_mode: true, quota_mode: false\n";
    const response = await fetch(`${sluice.adminUrl}/rlconfig`);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toBe(listed);
    const head = await fetch(`${sluice.adminUrl}/rlconfig`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(listed)));
    await writeFile(
      join(dir, "dummy.yaml"),
      "domain: dummy\ndescriptors:\n  - { key: perday, rate_limit: { unit: hour, requests_per_unit: 7 } }\n",
    );
    const reloaded = "dummy.perday: unit=HOUR requests_per_unit=7, shadow_mode: false, quota_mode: false\n";
    await expect.poll(dump, POLL).toBe(reloaded);
    // Under --workers each worker reloads on its own: every one asked in turn lists the new rules.
    await expect.poll(async () => [await dump(), await dump()], POLL).toEqual([reloaded, reloaded]);
  });
});
