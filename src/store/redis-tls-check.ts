import { connect } from "node:tls";

/** One handshake per this long at most, in ms: a diagnosis, not a health check. */
const CHECK_INTERVAL_MS = 30_000;
/** Bound on one handshake, in ms. */
const HANDSHAKE_TIMEOUT_MS = 2_000;

/**
 * Why a TLS Redis Cluster cannot be reached, for the log. ioredis asks for CLUSTER SLOTS on a
 * connection of its own whose errors it drops, so a refused certificate surfaces only as "Failed to
 * refresh slots cache." / "Connection is closed.". This makes one handshake with the same CA to a
 * seed and reports what TLS said, e.g. `self-signed certificate in certificate chain`.
 */
export function clusterTlsCheck(
  seed: { readonly host: string; readonly port: number },
  ca: Buffer | undefined,
  report: (error: Error) => void,
  now: () => number = Date.now,
): () => void {
  let lastCheck = Number.NEGATIVE_INFINITY;
  return () => {
    if (now() - lastCheck < CHECK_INTERVAL_MS) return;
    lastCheck = now();
    const socket = connect({ host: seed.host, port: seed.port, ca, servername: serverName(seed.host) });
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
    socket.once("secureConnect", () => socket.end());
    socket.once("error", (error: Error) => {
      report(new Error(`TLS to ${seed.host}:${seed.port}: ${error.message}`));
    });
  };
}

/** SNI takes host names only; an IP address is checked against the certificate's IP SANs. */
function serverName(host: string): string | undefined {
  return /^[\d.]+$|:/.test(host) ? undefined : host;
}
