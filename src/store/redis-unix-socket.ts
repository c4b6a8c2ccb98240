/**
 * A Redis reached through a Unix domain socket: `unix://[[user]:password@]/path/to/redis.sock[?db=N]`,
 * the form redis-py and go-redis read. A Redis beside Sluice on one host (a sidecar, a socket in a
 * shared volume) is reached without the TCP loopback stack; envoyproxy/ratelimit's
 * `REDIS_SOCKET_TYPE=unix` maps here (settings/reference-env.ts).
 *
 * Not a WHATWG URL: an authority of credentials and no host (`unix://:pw@/run/redis.sock`) is no
 * valid URL there, so this is its own small parser. Plaintext only: TLS over a local socket buys
 * nothing, and Cluster or Sentinel name their nodes by host and port.
 */
export interface UnixSocketAddress {
  readonly path: string;
  readonly username?: string;
  readonly password?: string;
  /** Database number, sent as SELECT. */
  readonly db?: number;
}

export type UnixSocketUrl =
  | { readonly ok: true; readonly address: UnixSocketAddress }
  | { readonly ok: false; readonly problem: string };

/** Linux keeps a socket path in 108 bytes, the last one a NUL. */
const MAX_PATH_BYTES = 107;

const UNIX_URL = /^unix:\/\/(?:([^@/]*)@)?([^?#]*)(?:\?([^#]*))?$/i;

export function isUnixSocketUrl(text: string): boolean {
  return /^unix:\/\//i.test(text);
}

/** The socket's path, credentials and database, or why the text is not such a URL. */
export function parseUnixSocketUrl(text: string): UnixSocketUrl {
  const match = UNIX_URL.exec(text);
  if (match === null) return problem("expected unix:///path/to/redis.sock");
  const [, userInfo, rawPath = "", query] = match;
  let path: string;
  let credentials: Pick<UnixSocketAddress, "username" | "password">;
  try {
    path = decodeURIComponent(rawPath);
    credentials = userInfo === undefined ? {} : splitUserInfo(userInfo);
  } catch {
    return problem("malformed %-escape in the path, the user or the password (a literal % is written %25)");
  }
  if (!path.startsWith("/") || path.length < 2)
    return problem("expected an absolute socket path after unix://");
  if (path.includes("\0")) return problem("the socket path holds a NUL byte");
  if (Buffer.byteLength(path) > MAX_PATH_BYTES)
    return problem(`the socket path is longer than ${MAX_PATH_BYTES} bytes, the most a Unix socket takes`);
  let db: number | undefined;
  for (const pair of (query ?? "").split("&").filter((p) => p !== "")) {
    const [name, value = ""] = pair.split("=", 2);
    if (name !== "db") return problem(`unknown parameter "${name}" (only db=N is read)`);
    if (!/^\d{1,5}$/.test(value)) return problem(`database "${value}" is not a number`);
    db = Number(value);
  }
  return { ok: true, address: { path, ...credentials, ...(db === undefined ? {} : { db }) } };
}

/** `user:password`, `:password` or `user`, %-decoded, as in a redis:// URL. */
function splitUserInfo(userInfo: string): Pick<UnixSocketAddress, "username" | "password"> {
  const colon = userInfo.indexOf(":");
  const username = decodeURIComponent(colon < 0 ? userInfo : userInfo.slice(0, colon));
  const password = colon < 0 ? "" : decodeURIComponent(userInfo.slice(colon + 1));
  return { ...(username === "" ? {} : { username }), ...(password === "" ? {} : { password }) };
}

function problem(text: string): UnixSocketUrl {
  return { ok: false, problem: text };
}
