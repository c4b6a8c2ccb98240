import type { Logger } from "../log/logger.ts";

/** At most one line per distinct message per this long, in ms. */
const REPEAT_AFTER_MS = 30_000;

/**
 * Logs Redis connection errors (refused, TLS handshake, AUTH) so an operator sees why the store is
 * unreachable. ioredis reports one at every reconnect attempt, several a second during an outage,
 * so the same message is logged again only after REPEAT_AFTER_MS.
 */
export function connectionErrorLog(logger: Logger, now: () => number = Date.now): (error: Error) => void {
  const lastLogged = new Map<string, number>();
  return (error) => {
    const at = now();
    const last = lastLogged.get(error.message);
    if (last !== undefined && at - last < REPEAT_AFTER_MS) return;
    // Messages are few (one per kind of failure); the map is cleared rather than grown without bound.
    if (lastLogged.size > 100) lastLogged.clear();
    lastLogged.set(error.message, at);
    logger.warn({ err: error.message }, "counter store connection error");
  };
}
