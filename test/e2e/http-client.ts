import { type IncomingHttpHeaders, request } from "node:http";

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /**
   * Loopback address to connect from, e.g. 127.0.0.2: Envoy sees it as the client IP, which is how
   * the tests act as several clients without trusting x-forwarded-for. fetch() cannot choose it.
   */
  readonly from?: string;
}

/** One HTTP/1.1 request on its own connection; resolves with the whole reply. */
export function send(url: string, options: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: options.method ?? "GET",
        headers: options.headers,
        localAddress: options.from,
        agent: false,
        timeout: 10_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        response.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no reply from ${url} in 10 s`)));
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

/** The X-RateLimit-* headers Sluice asked Envoy to add, as numbers (undefined when absent). */
export function rateLimitHeaders(reply: Reply): { limit?: number; remaining?: number; reset?: number } {
  const read = (name: string): number | undefined => {
    const value = reply.headers[name];
    return typeof value === "string" ? Number(value) : undefined;
  };
  return {
    limit: read("x-ratelimit-limit"),
    remaining: read("x-ratelimit-remaining"),
    reset: read("x-ratelimit-reset"),
  };
}

/**
 * Sends a GET and closes the connection after `afterMs` (0: as soon as it is sent), as a client
 * that gives up; resolves then, whatever was received.
 */
export function abandon(url: string, headers: Record<string, string>, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const outgoing = request(url, { headers, agent: false });
    outgoing.on("error", () => {});
    outgoing.end();
    setTimeout(() => {
      outgoing.destroy();
      resolve();
    }, afterMs);
  });
}
