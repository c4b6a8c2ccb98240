import type { IncomingMessage } from "node:http";

/** A request body past the route's bound; routes answer it 413. */
export class BodyTooLarge extends Error {}

/**
 * An admin request's body as text, read up to `maxBytes` and refused past them, so a client
 * cannot make the admin port hold an unbounded body in memory.
 */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new BodyTooLarge(`body over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
