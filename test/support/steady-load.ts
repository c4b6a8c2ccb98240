import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { headersOf, type RlsClient, type RlsRequest } from "./rls-client.ts";

/** One call of a load run, as the caller saw it. */
export interface LoadCall {
  /** What the caller chose to send, e.g. `rel-deny/victim`; for grouping checks. */
  readonly tag: string;
  readonly sentAt: number;
  readonly doneAt: number;
  /**
   * `OK+headers`, `OK`, `OVER_LIMIT+headers`, `OVER_LIMIT` for answers (headers = X-RateLimit-Limit
   * present, i.e. decided from counters); `UNAVAILABLE:store` for the store-failure status; any other
   * error as `<STATUS>:<details>`.
   */
  readonly outcome: string;
}

export interface SteadyLoadOptions {
  readonly client: RlsClient;
  /** Calls in flight at once. */
  readonly concurrency: number;
  /** Pause of each worker between its calls, in ms, to keep the load steady rather than flat out. */
  readonly pauseMs: number;
  /** Each call's deadline, in ms. */
  readonly timeoutMs: number;
  /** The n-th call to send. */
  readonly next: (n: number) => { readonly request: RlsRequest; readonly tag: string };
  /** Hard bounds: the run stops by itself after this many calls or this long. */
  readonly maxCalls: number;
  readonly maxDurationMs: number;
}

export interface SteadyLoad {
  readonly calls: LoadCall[];
  /** Calls recorded since `from` (a Date.now() value), by send time. */
  since(from: number): LoadCall[];
  /** Stops sending and waits for the calls in flight. */
  stop(): Promise<LoadCall[]>;
}

/** The outcome label of one call (see LoadCall.outcome). */
export async function callOutcome(
  client: RlsClient,
  request: RlsRequest,
  timeoutMs: number,
): Promise<string> {
  try {
    const reply = await client.shouldRateLimit(request, { timeoutMs });
    const decided = "x-ratelimit-limit" in headersOf(reply.response_headers_to_add);
    return `${reply.overall_code}${decided ? "+headers" : ""}`;
  } catch (error) {
    const { code, details } = error as { code: number; details?: string };
    if (code === status.UNAVAILABLE && details?.startsWith("counter store")) return "UNAVAILABLE:store";
    return `${status[code] ?? code}:${details ?? ""}`;
  }
}

/** Runs `concurrency` workers sending calls until stopped or a bound is reached. */
export function startSteadyLoad(options: SteadyLoadOptions): SteadyLoad {
  const calls: LoadCall[] = [];
  const started = Date.now();
  let sent = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && sent < options.maxCalls && Date.now() - started < options.maxDurationMs) {
      const { request, tag } = options.next(sent++);
      const sentAt = Date.now();
      const outcome = await callOutcome(options.client, request, options.timeoutMs);
      calls.push({ tag, sentAt, doneAt: Date.now(), outcome });
      if (options.pauseMs > 0) await sleep(options.pauseMs);
    }
  };
  const workers = Array.from({ length: options.concurrency }, worker);
  return {
    calls,
    since: (from) => calls.filter((c) => c.sentAt >= from),
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return calls;
    },
  };
}
