import { describe, expect, it } from "vitest";
import type { AdminAnswer } from "../edge/admin/admin-question.ts";
import { askWorkers } from "./cluster-questions.ts";

/** A worker that records what it is sent; `broken` throws as a closed IPC channel does. */
function fakeWorker(name: string, broken = false) {
  const sent: { id: number; question: unknown }[] = [];
  return {
    name,
    sent,
    send(message: { id: number; question: unknown }) {
      if (broken) throw new Error("ERR_IPC_CHANNEL_CLOSED");
      sent.push(message);
    },
  };
}

const question = { method: "GET", url: "/usage?domain=api&tenant=a", body: "" };
const json = (status: number, body: string): AdminAnswer => ({
  status,
  contentType: "application/json; charset=utf-8",
  headers: { "cache-control": "no-store" },
  body,
});
const answered = (id: number | undefined, answer: unknown) => ({ type: "sluice:answer", id, answer });

describe("askWorkers", () => {
  it("asks the workers in turn and relays each one's answer to its own question", async () => {
    const [a, b] = [fakeWorker("a"), fakeWorker("b")];
    const questions = askWorkers({ workers: () => [a, b] });
    const first = questions.ask(question);
    const second = questions.ask({ ...question, method: "POST", url: "/explain", body: "{}" });
    expect(a.sent.map((m) => m.question)).toEqual([question]);
    expect(b.sent).toHaveLength(1);
    // Answers arrive in any order; other messages on the channel are ignored.
    questions.received({ type: "sluice:readiness", notReady: null });
    questions.received(answered(b.sent[0]?.id, json(400, '{"error":"x"}\n')));
    questions.received(answered(a.sent[0]?.id, json(200, '{"ok":1}\n')));
    expect(await first).toEqual(json(200, '{"ok":1}\n'));
    expect(await second).toEqual(json(400, '{"error":"x"}\n'));
  });

  it("relays any admin question and its answer whole: text, headers, an unread body's reason", async () => {
    const worker = fakeWorker("w");
    const questions = askWorkers({ workers: () => [worker] });
    const tooLarge = { method: "POST", url: "/json", body: "", unreadBody: "too large" as const };
    const pending = [questions.ask(tooLarge), questions.ask({ method: "POST", url: "/rlconfig", body: "" })];
    expect(worker.sent.map((m) => m.question)).toEqual([
      tooLarge,
      { method: "POST", url: "/rlconfig", body: "" },
    ]);
    const refused = {
      status: 413,
      contentType: "text/plain; charset=utf-8",
      body: "Payload Too Large: body over 65536 bytes\n",
    };
    const notAllowed = { ...refused, status: 405, headers: { allow: "GET" }, body: "GET /rlconfig\n" };
    questions.received(answered(worker.sent[0]?.id, refused));
    questions.received(answered(worker.sent[1]?.id, notAllowed));
    expect(await Promise.all(pending)).toEqual([refused, notAllowed]);
  });

  it("ignores an answer that is not a whole one", async () => {
    const worker = fakeWorker("w");
    const questions = askWorkers({ workers: () => [worker], timeoutMs: 50 });
    const pending = questions.ask(question);
    const id = worker.sent[0]?.id;
    questions.received(answered(id, { status: 200, body: { ok: 1 } }));
    questions.received(answered(id, { ...json(200, "{}"), headers: { allow: 1 } }));
    expect(await pending).toMatchObject({ status: 503 });
  });

  it("answers 503 at once when no worker is serving, worded as the path asked words its refusals", async () => {
    const questions = askWorkers({ workers: () => [] });
    const usage = await questions.ask(question);
    expect(usage).toMatchObject({ status: 503, contentType: "application/json; charset=utf-8" });
    expect(JSON.parse(usage.body)).toEqual({ error: "no worker is serving; try again" });
    expect(await questions.ask({ method: "POST", url: "/json", body: "{}" })).toEqual({
      status: 503,
      contentType: "text/plain; charset=utf-8",
      body: "Service Unavailable: no worker is serving; try again\n",
    });
  });

  it("answers 503 when the worker does not answer in time, and ignores its late answer", async () => {
    const worker = fakeWorker("slow");
    const questions = askWorkers({ workers: () => [worker], timeoutMs: 20 });
    const answer = await questions.ask(question);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({ error: "no worker answered within 20 ms; try again" });
    questions.received(answered(worker.sent[0]?.id, json(200, "{}")));
  });

  it("answers 503 at once when the worker asked exits, or its channel is closed", async () => {
    const [leaving, closed] = [fakeWorker("leaving"), fakeWorker("closed", true)];
    const questions = askWorkers({ workers: () => [leaving, closed], timeoutMs: 60_000 });
    const pending = questions.ask({ method: "GET", url: "/rlconfig", body: "" });
    questions.gone(closed);
    questions.gone(leaving);
    expect(await pending).toMatchObject({
      status: 503,
      body: "Service Unavailable: the worker asked has gone; try again\n",
    });
    expect(await questions.ask(question)).toMatchObject({ status: 503 });
  });
});
