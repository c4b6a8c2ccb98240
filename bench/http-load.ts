import { Agent, request } from "node:http";
import { type LatencyPercentiles, percentiles } from "./percentiles.ts";

export interface HttpLoadOptions {
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** Requests in flight at once, each on its own keep-alive connection. */
  readonly concurrency: number;
  readonly durationMs: number;
}

export interface HttpLoadResult {
  /** Requests answered 2xx. */
  readonly ok: number;
  /** Requests answered otherwise (a 429 included) or failed. */
  readonly errors: number;
  readonly seconds: number;
  readonly rps: number;
  /** Of the 2xx answers, in milliseconds from send to the last byte. */
  readonly latency: LatencyPercentiles;
}

/**
 * A closed-loop HTTP/1.1 load generator: `concurrency` loops, each sending its next GET as soon as
 * the previous reply has been read, on keep-alive connections, until the duration is up. Small on
 * purpose (no dependency): it runs in the benchmark's own process, so its CPU is on the machine too.
 */
export async function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const until = started + options.durationMs;
  const once = () =>
    new Promise<void>((resolve) => {
      const sentAt = performance.now();
      const outgoing = request(options.url, { agent, headers: options.headers }, (response) => {
        response.resume();
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) latencies.push(performance.now() - sentAt);
          else errors += 1;
          resolve();
        });
      });
      outgoing.on("error", () => {
        errors += 1;
        resolve();
      });
      outgoing.end();
    });
  const loop = async () => {
    while (performance.now() < until) await once();
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    ok: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    latency: percentiles(latencies),
  };
}
