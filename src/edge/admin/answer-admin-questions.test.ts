import { describe, expect, it } from "vitest";
import type { Explainer } from "../../limiter/explain-call.ts";
import type { Decision } from "../../limiter/limiter-types.ts";
import type { RateLimiter } from "../../limiter/rate-limiter.ts";
import type { PolicyTable } from "../../policy/policy-types.ts";
import { StoreError } from "../../store/counter-store.ts";
import { STORE_BUDGET_MS } from "./admin-question.ts";
import { answerAdminQuestions, questionError } from "./answer-admin-questions.ts";

const OK: Decision = { code: "OK", statuses: [], responseHeaders: [], requestHeaders: [], outcomes: [] };

/** One process's answers over fakes: a limiter answering `decide`, the calls and metrics recorded. */
function answers(decide: () => Promise<Decision> = () => Promise.resolve(OK)) {
  const decided: unknown[] = [];
  const deadlines: (number | undefined)[] = [];
  const errors: string[] = [];
  const limiter: RateLimiter = {
    shouldRateLimit: (call, context) => {
      decided.push(call);
      deadlines.push(context?.deadlineMs);
      return decide();
    },
  } as RateLimiter;
  const policy = () => ({ hasDomain: () => true, dump: () => "d.k: unit=DAY\n" }) as unknown as PolicyTable;
  const explainer: Explainer = {
    explain: () => Promise.reject(new StoreError("store down", { transient: true })),
  };
  const metrics = { recordDecision: () => undefined, recordError: (kind: string) => void errors.push(kind) };
  return {
    answer: answerAdminQuestions({ explainer, limiter, policy, metrics }),
    decided,
    deadlines,
    errors,
  };
}

const call = '{"domain":"d","descriptors":[{"entries":[{"key":"k"}]}]}';

describe("answerAdminQuestions", () => {
  it("answers each path with its own endpoint, in its own words", async () => {
    const { answer } = answers();
    expect(await answer({ method: "POST", url: "/json", body: call })).toEqual({
      status: 200,
      contentType: "application/json",
      headers: { "cache-control": "no-store" },
      body: '{"overallCode":"OK"}',
    });
    expect(await answer({ method: "HEAD", url: "/rlconfig?x", body: "" })).toEqual({
      status: 200,
      contentType: "text/plain; charset=utf-8",
      body: "d.k: unit=DAY\n",
    });
    expect(await answer({ method: "POST", url: "/explain", body: call })).toEqual({
      status: 503,
      contentType: "application/json; charset=utf-8",
      headers: { "cache-control": "no-store" },
      body: '{\n  "error": "store down"\n}\n',
    });
  });

  it("answers a body left unread in each endpoint's words, counting /json's as an invalid argument", async () => {
    const { answer, decided, errors } = answers();
    const tooLarge = { method: "POST", body: "", unreadBody: "too large" } as const;
    expect(await answer({ ...tooLarge, url: "/json" })).toMatchObject({
      status: 413,
      body: "Payload Too Large: body over 65536 bytes\n",
    });
    expect(await answer({ ...tooLarge, url: "/explain", unreadBody: "broken" })).toMatchObject({
      status: 400,
      body: '{\n  "error": "could not read the request body"\n}\n',
    });
    // The method is refused first, whatever the body.
    expect(await answer({ ...tooLarge, url: "/rlconfig" })).toMatchObject({
      status: 405,
      headers: { allow: "GET" },
    });
    expect(decided).toEqual([]);
    expect(errors).toEqual(["invalid_argument"]);
  });

  it("gives /json the store budget as its deadline and maps a store failure to 503", async () => {
    const { answer, deadlines, errors } = answers(() =>
      Promise.reject(new StoreError("redis: no reply", { transient: true })),
    );
    const asked = Date.now();
    expect(await answer({ method: "POST", url: "/json", body: call })).toMatchObject({
      status: 503,
      body: "Service Unavailable: redis: no reply\n",
    });
    expect(errors).toEqual(["unavailable"]);
    // Within the budget, so a worker answers before the primary relaying the question gives up.
    expect(deadlines[0]).toBeGreaterThanOrEqual(asked + STORE_BUDGET_MS);
    expect(deadlines[0]).toBeLessThan(asked + STORE_BUDGET_MS + 1_000);
  });
});

describe("questionError", () => {
  it("words a refusal no endpoint gave as the path asked words its own", () => {
    expect(questionError({ method: "GET", url: "/usage?domain=a", body: "" }, 503, "none")).toMatchObject({
      contentType: "application/json; charset=utf-8",
      body: '{\n  "error": "none"\n}\n',
    });
    expect(questionError({ method: "POST", url: "/json", body: "" }, 503, "none")).toMatchObject({
      contentType: "text/plain; charset=utf-8",
      body: "Service Unavailable: none\n",
    });
  });
});
