import { InvalidRequestError } from "../../limiter/limiter-types.ts";
import type { ErrorKind } from "../../metrics/metrics.ts";
import { StoreError } from "../../store/counter-store.ts";

/**
 * The admin endpoints that need the limiter or the store (POST /explain, GET /usage, POST /json,
 * GET /rlconfig) as plain data, apart from HTTP: a question is what the admin port read, an answer
 * is everything it replies. So one answer serves the admin port of the process that holds the
 * store (question-route.ts) and, under `--workers N`, a question the primary relays to a worker over
 * the cluster channel (src/cli/cluster-questions.ts): the primary holds no store, and writes the
 * worker's status, content type, headers and body as they are.
 */

/** A request to one of these endpoints as the admin port read it. */
export interface AdminQuestion {
  readonly method: string;
  /** Path and query, as in the request line. */
  readonly url: string;
  /** The body as text; empty for a method other than POST, or when it was not read. */
  readonly body: string;
  /**
   * Why a POST's body was not read, for the endpoint to answer in its own words: over
   * MAX_QUESTION_BODY_BYTES, or broken off (the client went away mid-body).
   */
  readonly unreadBody?: UnreadBody;
}

export type UnreadBody = "too large" | "broken";

/** The reply, whole: JSON and text answers alike go through a relay unchanged. */
export interface AdminAnswer {
  readonly status: number;
  readonly contentType: string;
  /** Besides content-type and content-length, e.g. `allow` on a 405. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Answers a question; never rejects (every failure is an answer with its status). */
export type AnswerQuestion = (question: AdminQuestion) => Promise<AdminAnswer>;

/**
 * The largest body read, in bytes: larger than any sane ShouldRateLimit request (the gRPC edge's
 * own default bound is 64 KiB), small enough to hold. The process that reads the request applies
 * it, so a primary never relays more.
 */
export const MAX_QUESTION_BODY_BYTES = 64 * 1024;

/**
 * How long a question may wait on the store, in ms; the guard's own timeout may be shorter. The
 * primary waits a little longer for a worker (cluster-questions.ts), so the worker's own answer
 * to a slow store comes first.
 */
export const STORE_BUDGET_MS = 5_000;

/** The status and the words for a body that was not read. */
export function unreadBodyError(unread: UnreadBody): { status: number; message: string } {
  return unread === "too large"
    ? { status: 413, message: `body over ${MAX_QUESTION_BODY_BYTES} bytes` }
    : { status: 400, message: "could not read the request body" };
}

/** The path a question is asked on, without its query; never throws, whatever the request line. */
export function questionPath(url: string): string {
  return url.split("?")[0] ?? url;
}

/**
 * The one mapping from an error thrown while answering to an HTTP status, as the gRPC edge's
 * toGrpcErrorStatus does for gRPC: a request it cannot take is 400, a store that cannot be asked
 * 503 (its words kept), anything else 500 with no detail. `kind` is the metrics label.
 */
export function httpErrorStatus(error: unknown): { status: number; kind: ErrorKind; message: string } {
  if (error instanceof InvalidRequestError)
    return { status: 400, kind: "invalid_argument", message: error.message };
  if (error instanceof StoreError) return { status: 503, kind: "unavailable", message: error.message };
  return { status: 500, kind: "internal", message: "internal error" };
}
