import type { ServerCredentials } from "@grpc/grpc-js";
import { tlsServerCredentials } from "../edge/grpc/tls-server-credentials.ts";
import { watchCertificates } from "../edge/grpc/watched-certificates.ts";
import type { Logger } from "../log/logger.ts";
import type { TlsSettings } from "../settings/settings.ts";

export type TlsSetup =
  | { readonly ok: true; readonly credentials: ServerCredentials; close(): void }
  | { readonly ok: false; readonly error: string };

/**
 * Loads the gRPC port's certificates (failing here, before anything binds, when they are unusable)
 * and keeps re-reading them; reloads and refused reloads are logged.
 */
export function startTls(tls: TlsSettings, logger: Logger): TlsSetup {
  try {
    const watched = watchCertificates(tls, {
      intervalMs: tls.reloadIntervalMs,
      onReload: () => logger.info({ certFile: tls.certFile }, "TLS certificates reloaded"),
      onError: (error) =>
        logger.warn(
          { err: error.message },
          "TLS certificates changed but are unusable; keeping the previous ones",
        ),
    });
    return {
      ok: true,
      credentials: tlsServerCredentials(watched, tls.clientCaFile !== undefined),
      close: () => watched.close(),
    };
  } catch (error) {
    return { ok: false, error: `TLS: ${error instanceof Error ? error.message : String(error)}` };
  }
}
