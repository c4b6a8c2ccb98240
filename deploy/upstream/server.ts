// The sample API that Envoy fronts in the demo stack and the end-to-end tests. It knows nothing of
// rate limits: everything it sees has already passed Sluice's decision in Envoy.
//
//   node deploy/upstream/server.ts [--host 127.0.0.1] [--port 0]
//
// Prints `upstream listening on http://HOST:PORT` once it accepts connections (port 0 picks a free one).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";

/** Longest `?delay_ms=` honoured, so a typo cannot park a request for hours (ms). */
const MAX_DELAY_MS = 30_000;

export interface UpstreamStats {
  /** Requests being handled right now. */
  inFlight: number;
  /** Most requests ever handled at once: lets concurrency tests see what got through Envoy together. */
  peakInFlight: number;
  /** Requests answered, `/_stats` excluded. */
  served: number;
}

export function createUpstreamServer(): Server {
  const stats: UpstreamStats = { inFlight: 0, peakInFlight: 0, served: 0 };
  return createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://upstream");
    if (url.pathname === "/_stats") {
      // POST starts a new measurement: the peak from now on, counted from what is in flight now.
      if (request.method === "POST") {
        stats.peakInFlight = stats.inFlight;
        stats.served = 0;
      }
      sendJson(response, 200, stats);
      return;
    }
    stats.inFlight += 1;
    stats.peakInFlight = Math.max(stats.peakInFlight, stats.inFlight);
    // Envoy resets the upstream request (closes the connection) when its client goes away, and at
    // once sends the stream-done call that gives the request's concurrency lease back. Work that
    // went on past that would run beside the next request admitted: a concurrency limit bounds an
    // upstream only if it stops work nobody is waiting for, as this one does.
    const gone = new AbortController();
    response.once("close", () => gone.abort());
    void handle(request, url, response, gone.signal).finally(() => {
      stats.inFlight -= 1;
      stats.served += 1;
    });
  });
}

async function handle(
  request: IncomingMessage,
  url: URL,
  response: ServerResponse,
  gone: AbortSignal,
): Promise<void> {
  const body = await readBody(request);
  const delayMs = Number(url.searchParams.get("delay_ms") ?? 0);
  if (Number.isFinite(delayMs) && delayMs > 0) {
    // A caller gone mid-delay ends the request: there is no one to answer.
    const waited = await sleep(Math.min(delayMs, MAX_DELAY_MS), true, { signal: gone }).catch(() => false);
    if (!waited) return;
  }

  const route = `${request.method} ${url.pathname}`;
  const tenant = request.headers["x-sluice-tenant"];
  switch (route) {
    case "GET /api/health":
      sendJson(response, 200, { status: "ok" });
      return;
    case "GET /v1/leads":
      sendJson(response, 200, { tenant, leads: [{ id: "lead-1", name: "Ada Lovelace" }] });
      return;
    case "POST /v1/leads/bulk":
      sendJson(response, 202, { tenant, accepted: countLeads(body) });
      return;
    case "GET /v1/contacts":
      sendJson(response, 200, { tenant, contacts: [{ id: "contact-1", name: "Grace Hopper" }] });
      return;
    default:
      sendJson(response, 404, { error: `no route for ${route}` });
  }
}

/** A bulk body is a JSON array of leads; anything else counts as zero accepted. */
function countLeads(body: string): number {
  try {
    const parsed: unknown = JSON.parse(body);
    return Array.isArray(parsed) ? parsed.length : 0;
  } catch {
    return 0;
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "0" } },
  });
  const server = createUpstreamServer();
  await new Promise<void>((resolve) => server.listen(Number(values.port), values.host, resolve));
  const { address, port } = server.address() as AddressInfo;
  console.log(`upstream listening on http://${address}:${port}`);
  const shutDown = (): void => {
    server.close();
    server.closeAllConnections();
  };
  process.once("SIGTERM", shutDown);
  process.once("SIGINT", shutDown);
}

if (import.meta.main) await main(process.argv.slice(2));
