import type { AdminAnswer, AdminQuestion, AnswerQuestion } from "../edge/admin/admin-question.ts";
import { STORE_BUDGET_MS } from "../edge/admin/admin-question.ts";
import { questionError } from "../edge/admin/answer-admin-questions.ts";

/**
 * The admin questions (/explain, /usage, /json, /rlconfig; admin-question.ts) under `--workers N`:
 * the primary serves the admin port but holds no store, limiter or live policy, so it sends each
 * question to one worker over the node:cluster channel and replies with that worker's answer,
 * status, content type, headers and body as they are. Any worker will do: with workers the store
 * is always shared (settings.ts refuses workers on the memory store), so every worker reads and
 * counts in the same counters and leases; each watches the same policy files.
 */

/** Primary → worker: answer this question. */
interface QuestionMessage {
  readonly type: "sluice:question";
  readonly id: number;
  readonly question: AdminQuestion;
}

/** Worker → primary: the answer to question `id`. */
interface AnswerMessage {
  readonly type: "sluice:answer";
  readonly id: number;
  readonly answer: AdminAnswer;
}

/**
 * How long the primary waits for a worker's answer, in ms: past the question's own store budget,
 * so a worker's 503 for a slow store arrives first; this only covers a worker that cannot answer
 * (busy past the budget, stopped, or exiting).
 */
export const WORKER_ANSWER_TIMEOUT_MS = STORE_BUDGET_MS + 1_000;

/** The part of a cluster Worker a question is sent through. */
export interface AnsweringWorker {
  send(message: QuestionMessage): unknown;
}

export interface WorkerQuestions<W extends AnsweringWorker> {
  /** Asks the next worker in turn; answers 503 when none is serving or none answers in time. */
  readonly ask: AnswerQuestion;
  /** Every message a worker sends: answers settle their questions, anything else is ignored. */
  received(message: unknown): void;
  /** A worker exited: its open questions are answered 503 at once. */
  gone(worker: W): void;
}

export interface WorkerQuestionsOptions<W extends AnsweringWorker> {
  /** The workers that can answer now (bound and connected). */
  readonly workers: () => readonly W[];
  readonly timeoutMs?: number;
}

export function askWorkers<W extends AnsweringWorker>(
  options: WorkerQuestionsOptions<W>,
): WorkerQuestions<W> {
  const timeoutMs = options.timeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;
  const open = new Map<
    number,
    { worker: W; question: AdminQuestion; settle: (answer: AdminAnswer) => void }
  >();
  let lastId = 0;
  let turn = 0;
  return {
    ask(question) {
      const candidates = options.workers();
      const worker = candidates[turn++ % Math.max(1, candidates.length)];
      const unavailable = (error: string) => questionError(question, 503, error);
      if (worker === undefined) return Promise.resolve(unavailable("no worker is serving; try again"));
      const id = ++lastId;
      return new Promise((resolve) => {
        const timer = setTimeout(
          () => settle(unavailable(`no worker answered within ${timeoutMs} ms; try again`)),
          timeoutMs,
        );
        const settle = (answer: AdminAnswer) => {
          clearTimeout(timer);
          open.delete(id);
          resolve(answer);
        };
        open.set(id, { worker, question, settle });
        try {
          worker.send({ type: "sluice:question", id, question });
        } catch {
          // The channel closed under us (the worker is exiting).
          settle(unavailable("the worker asked has gone; try again"));
        }
      });
    },
    received(message) {
      if (isAnswerMessage(message)) open.get(message.id)?.settle(message.answer);
    },
    gone(worker) {
      for (const asked of open.values()) {
        if (asked.worker === worker)
          asked.settle(questionError(asked.question, 503, "the worker asked has gone; try again"));
      }
    },
  };
}

/**
 * In a worker: answers the primary's questions with this process's own answers (the same function
 * its admin port would use: answer-admin-questions.ts). Returns the function that stops listening.
 */
export function answerPrimary(answer: AnswerQuestion): () => void {
  const listener = (message: unknown) => {
    if (!isQuestionMessage(message)) return;
    void answer(message.question).then((answered) => {
      // The primary may have gone meanwhile (it then stops this worker too).
      if (process.connected)
        process.send?.({ type: "sluice:answer", id: message.id, answer: answered } satisfies AnswerMessage);
    });
  };
  process.on("message", listener);
  return () => process.off("message", listener);
}

function isQuestionMessage(message: unknown): message is QuestionMessage {
  const m = message as Partial<QuestionMessage> | null;
  return (
    typeof m === "object" &&
    m !== null &&
    m.type === "sluice:question" &&
    typeof m.id === "number" &&
    typeof m.question?.method === "string" &&
    typeof m.question.url === "string" &&
    typeof m.question.body === "string" &&
    (m.question.unreadBody === undefined ||
      m.question.unreadBody === "too large" ||
      m.question.unreadBody === "broken")
  );
}

function isAnswerMessage(message: unknown): message is AnswerMessage {
  const m = message as Partial<AnswerMessage> | null;
  return (
    typeof m === "object" &&
    m !== null &&
    m.type === "sluice:answer" &&
    typeof m.id === "number" &&
    typeof m.answer?.status === "number" &&
    typeof m.answer.contentType === "string" &&
    typeof m.answer.body === "string" &&
    (m.answer.headers === undefined || isTextRecord(m.answer.headers))
  );
}

function isTextRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === "object" && value !== null && Object.values(value).every((v) => typeof v === "string")
  );
}
