import { describe, expect, it } from "vitest";
import type { QuotaAssignment } from "./quota-assignment.ts";
import type { BucketUsage, QuotaLimiter } from "./quota-limiter.ts";
import { ABANDON_AFTER_IDLE_REPORTS, type BucketAction, createQuotaStreams } from "./quota-streams.ts";

const tokens = (maxTokens: number): QuotaAssignment => ({
  kind: "token_bucket",
  ttlSeconds: 11,
  maxTokens,
  tokensPerFill: 1,
  fillIntervalSeconds: 6,
});

/** Assigns 12 ÷ streams tokens, unless told otherwise; records what it was asked. */
function fakeLimiter() {
  const asked: { usage: BucketUsage; streams: number }[] = [];
  let answer: (streams: number) => QuotaAssignment | undefined = (streams) => tokens(12 / streams);
  const limiter: QuotaLimiter = {
    async assess(usage, streams) {
      asked.push({ usage, streams });
      return answer(streams);
    },
  };
  return { limiter, asked, answerWith: (next: typeof answer) => (answer = next) };
}

function recorder() {
  const sent: BucketAction[][] = [];
  return { sent, send: (actions: readonly BucketAction[]) => sent.push([...actions]) };
}

const acme = { tenant: "acme" };
const used = (allowed: number, denied = 0) => [{ bucket: acme, allowed, denied }];

describe("createQuotaStreams", () => {
  it("answers each report with the reported buckets' assignments", async () => {
    const fake = fakeLimiter();
    const streams = createQuotaStreams({ limiter: fake.limiter });
    const a = recorder();
    await streams
      .open(a.send)
      .report("d", [...used(3), { bucket: { tenant: "beta" }, allowed: 0, denied: 0 }]);
    expect(a.sent).toEqual([
      [
        { bucket: acme, assignment: tokens(12) },
        { bucket: { tenant: "beta" }, assignment: tokens(12) },
      ],
    ]);
    expect(fake.asked[0]).toEqual({ usage: { domain: "d", bucket: acme, allowed: 3 }, streams: 1 });
    expect([streams.streamCount(), streams.bucketCount()]).toEqual([1, 2]);
  });

  it("divides a bucket between the streams reporting it and tells the others when their share changes", async () => {
    const fake = fakeLimiter();
    const streams = createQuotaStreams({ limiter: fake.limiter });
    const a = recorder();
    const b = recorder();
    const streamA = streams.open(a.send);
    await streamA.report("d", used(1));
    await streams.open(b.send).report("d", used(1));
    expect(b.sent).toEqual([[{ bucket: acme, assignment: tokens(6) }]]);
    expect(a.sent).toEqual([
      [{ bucket: acme, assignment: tokens(12) }],
      [{ bucket: acme, assignment: tokens(6) }],
    ]);
    // The same assignment again is sent to the reporting stream only (its TTL), not to the other.
    await streamA.report("d", used(0));
    expect(b.sent).toHaveLength(1);
    expect(a.sent).toHaveLength(3);
  });

  it("stops counting a stream once it closes", async () => {
    const fake = fakeLimiter();
    const streams = createQuotaStreams({ limiter: fake.limiter });
    const streamA = streams.open(recorder().send);
    const b = recorder();
    const streamB = streams.open(b.send);
    await streamA.report("d", used(1));
    await streamB.report("d", used(1));
    streamA.close();
    await streamB.report("d", used(1));
    expect(fake.asked.map((q) => q.streams)).toEqual([1, 2, 1]);
    expect([streams.streamCount(), streams.bucketCount()]).toEqual([1, 1]);
    streamB.close();
    expect([streams.streamCount(), streams.bucketCount()]).toEqual([0, 0]);
  });

  it(`abandons a bucket idle for ${ABANDON_AFTER_IDLE_REPORTS} reports in a row`, async () => {
    const a = recorder();
    const streams = createQuotaStreams({ limiter: fakeLimiter().limiter });
    const stream = streams.open(a.send);
    await stream.report("d", used(1));
    // A denied request is use too: the idle run starts after it.
    await stream.report("d", used(0, 1));
    for (let i = 1; i < ABANDON_AFTER_IDLE_REPORTS; i++) await stream.report("d", used(0));
    expect(a.sent.flat().some((action) => "abandon" in action)).toBe(false);
    await stream.report("d", used(0));
    expect(a.sent.at(-1)).toEqual([{ bucket: acme, abandon: true }]);
    expect(streams.bucketCount()).toBe(0);
  });

  it("sends nothing for a bucket the limiter assigns nothing, and reports a failure", async () => {
    const fake = fakeLimiter();
    const errors: unknown[] = [];
    const streams = createQuotaStreams({ limiter: fake.limiter, onError: (e) => errors.push(e) });
    const a = recorder();
    const stream = streams.open(a.send);
    fake.answerWith(() => undefined);
    await stream.report("d", used(1));
    fake.answerWith(() => {
      throw new Error("bug");
    });
    await stream.report("d", used(1));
    expect(a.sent).toEqual([]);
    expect(errors).toEqual([new Error("bug")]);
  });

  it("reassesses every bucket after a reload and sends only what changed", async () => {
    const fake = fakeLimiter();
    const streams = createQuotaStreams({ limiter: fake.limiter });
    const a = recorder();
    const b = recorder();
    await streams.open(a.send).report("d", used(1));
    await streams.open(b.send).report("d", [{ bucket: { tenant: "beta" }, allowed: 1, denied: 0 }]);
    fake.answerWith((n) =>
      fake.asked.at(-1)?.usage.bucket === acme ? { kind: "deny_all", ttlSeconds: 6 } : tokens(12 / n),
    );
    await streams.reassessAll();
    expect(fake.asked.slice(2).map((q) => q.usage.allowed)).toEqual([0, 0]);
    expect(a.sent.at(-1)).toEqual([{ bucket: acme, assignment: { kind: "deny_all", ttlSeconds: 6 } }]);
    expect(b.sent).toHaveLength(1);
  });

  it("sends one stream's assignments in the order of its reports", async () => {
    const fake = fakeLimiter();
    let n = 0;
    fake.answerWith(() => tokens(++n));
    const a = recorder();
    const stream = createQuotaStreams({ limiter: fake.limiter }).open(a.send);
    await Promise.all([stream.report("d", used(1)), stream.report("d", used(1))]);
    expect(a.sent.map((m) => (m[0] as { assignment: { maxTokens: number } }).assignment.maxTokens)).toEqual([
      1, 2,
    ]);
  });
});
