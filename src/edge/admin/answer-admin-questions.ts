import { type AdminAnswer, type AdminQuestion, type AnswerQuestion, questionPath } from "./admin-question.ts";
import {
  answerExplainQuestions,
  EXPLAIN_PATHS,
  type ExplainQuestionsOptions,
  explainError,
} from "./explain-questions.ts";
import {
  answerReferenceQuestions,
  REFERENCE_PATHS,
  type ReferenceQuestionsOptions,
  referenceError,
} from "./reference-questions.ts";

/**
 * Every admin question this process can answer, by path: /explain and /usage with the explainer
 * (explain-questions.ts), /json and /rlconfig with the limiter (reference-questions.ts). One
 * function, so the admin port of the process that holds the store and a worker asked by the
 * primary under `--workers N` answer the same.
 */

/** The paths a question is asked on: the admin port's route takes these (question-route.ts). */
export const QUESTION_PATHS: ReadonlySet<string> = new Set([...EXPLAIN_PATHS, ...REFERENCE_PATHS]);

export type AdminQuestionsOptions = ExplainQuestionsOptions & ReferenceQuestionsOptions;

export function answerAdminQuestions(options: AdminQuestionsOptions): AnswerQuestion {
  const explain = answerExplainQuestions(options);
  const reference = answerReferenceQuestions(options);
  return (question) =>
    REFERENCE_PATHS.has(questionPath(question.url)) ? reference(question) : explain(question);
}

/**
 * An answer no endpoint gave (under `--workers N`, no worker answered), worded as the path asked
 * words its own refusals, so a client reads it as it reads the rest: text for the reference's
 * paths, JSON for /explain and /usage.
 */
export function questionError(question: AdminQuestion, status: number, message: string): AdminAnswer {
  return REFERENCE_PATHS.has(questionPath(question.url))
    ? referenceError(status, message)
    : explainError(status, message);
}
