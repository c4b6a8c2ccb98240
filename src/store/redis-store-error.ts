import { StoreError } from "./counter-store.ts";

/**
 * Error replies that describe the server's state rather than the command: the same call may
 * succeed once the server has loaded its data, a failover has finished, the cluster has healed
 * or keys have expired. Anything else Redis replies (a script error, WRONGTYPE) is a bug or a
 * foreign key in our namespace and will not go away by retrying.
 */
const TRANSIENT_REPLY_PREFIXES = [
  "LOADING",
  "BUSY",
  "TRYAGAIN",
  "CLUSTERDOWN",
  "MASTERDOWN",
  "READONLY",
  "NOREPLICAS",
  "OOM",
];

/**
 * Maps whatever ioredis rejected with to a StoreError. Only error replies come as `ReplyError`;
 * every other failure ioredis produces (connection closed, "Stream isn't writeable" with the offline
 * queue off, command timeout, MaxRetriesPerRequestError, cluster not ready) is about reaching the
 * server, so it is transient: the limiter answers UNAVAILABLE and Envoy's failure mode decides.
 */
export function toStoreError(error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const isReply = isErrorReply(error);
  // A slot being migrated: the same call is served once the migration ends, and the node is alive.
  if (isNotLocal(error))
    return new StoreError(`redis: ${message}`, { transient: true, reachable: true, cause: error });
  const transient = !isReply || TRANSIENT_REPLY_PREFIXES.some((prefix) => message.startsWith(prefix));
  return new StoreError(`redis: ${message}`, { transient, cause: error });
}

/**
 * A Cluster node refused a key a script touched because it does not serve it now: the key's slot
 * has moved or is being moved (a multi-key read in a slot being migrated is refused until the
 * migration ends), or the client's slot map is stale. Redis 7.0 words it "Script attempted to
 * access a non local key in a cluster node"; a server that refuses keys of several slots in one
 * script, "... do not hash to the same slot". The charge scripts read every key of a request before
 * writing any, so a request refused this way changed nothing and may be sent again.
 */
export function isNotLocal(error: unknown): boolean {
  return error instanceof Error && NOT_LOCAL.test(error.message);
}

const NOT_LOCAL = /non local key|do not hash to the same slot/;

/** Whether Redis answered with an error reply (ioredis's ReplyError), as against not being reached at all. */
export function isErrorReply(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError";
}
