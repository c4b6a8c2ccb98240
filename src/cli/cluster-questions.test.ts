import { describe, expect, it } from "vitest";
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
    questions.received({
      type: "sluice:answer",
      id: b.sent[0]?.id,
      answer: { status: 400, body: { error: "x" } },
    });
    questions.received({
      type: "sluice:answer",
      id: a.sent[0]?.id,
      answer: { status: 200, body: { ok: 1 } },
    });
    expect(await first).toEqual({ status: 200, body: { ok: 1 } });
    expect(await second).toEqual({ status: 400, body: { error: "x" } });
  });

  it("answers 503 at once when no worker is serving", async () => {
    const questions = askWorkers({ workers: () => [] });
    expect(await questions.ask(question)).toMatchObject({ status: 503, body: { error: expect.any(String) } });
  });

  it("answers 503 when the worker does not answer in time, and ignores its late answer", async () => {
    const worker = fakeWorker("slow");
    const questions = askWorkers({ workers: () => [worker], timeoutMs: 20 });
    const answer = await questions.ask(question);
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: "no worker answered within 20 ms; try again" });
    questions.received({ type: "sluice:answer", id: worker.sent[0]?.id, answer: { status: 200, body: {} } });
  });

  it("answers 503 at once when the worker asked exits, or its channel is closed", async () => {
    const [leaving, closed] = [fakeWorker("leaving"), fakeWorker("closed", true)];
    const questions = askWorkers({ workers: () => [leaving, closed], timeoutMs: 60_000 });
    const pending = questions.ask(question);
    questions.gone(closed);
    questions.gone(leaving);
    expect(await pending).toMatchObject({ status: 503 });
    expect(await questions.ask(question)).toMatchObject({ status: 503 });
  });
});
