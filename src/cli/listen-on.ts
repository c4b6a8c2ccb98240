import type { Logger } from "../log/logger.ts";
import { describeOption } from "../settings/options.ts";
import type { HostPort } from "../settings/settings.ts";

export type Listening<T> =
  | { readonly ok: true; readonly server: T }
  | { readonly ok: false; readonly error: string };

/** The usual reasons a listen fails, as an operator reads them; others are shown as the system words them. */
const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "no such address on this host",
};

/**
 * Starts a server on the address option `name` gave. Failing to listen comes back as one line
 * naming the option and the address, as a settings error does, since the fix is in the flag: the
 * stack grpc-js or libuv would print names neither. Starting a server does nothing else that can
 * fail at run time, so every error here is taken as one about the address.
 */
export async function listenOn<T>(
  name: "grpcAddr" | "adminAddr",
  addr: HostPort,
  start: (addr: HostPort) => Promise<T>,
): Promise<Listening<T>> {
  try {
    return { ok: true, server: await start(addr) };
  } catch (error: unknown) {
    const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host;
    return {
      ok: false,
      error: `${describeOption(name)}: cannot listen on ${host}:${addr.port}: ${listenReason(error)}`,
    };
  }
}

/** Says why `serve` is not starting: a line on stderr, as for a settings error, and the log record. */
export function reportNotListening(error: string, logger: Logger): void {
  process.stderr.write(`sluice serve: ${error}\n`);
  logger.error({ err: error }, "cannot listen; not starting");
}

function listenReason(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
  // Node's own errors carry the code; grpc-js words it into its message ("... [listen EADDRINUSE: ...]").
  const code = (error as { code?: unknown } | undefined)?.code;
  const named = typeof code === "string" ? code : /\b(E[A-Z]{4,})\b/.exec(message)?.[1];
  return (named !== undefined && REASONS[named]) || message;
}
