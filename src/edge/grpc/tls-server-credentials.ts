import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import type { WatchedCertificates } from "./watched-certificates.ts";

/**
 * gRPC server credentials from watched certificate files: TLS, or mutual TLS when `mutual`
 * (client certificates required and checked against the client CA).
 *
 * grpc-js 1.14 declares createCertificateProviderServerCredentials(caProvider, identityProvider, ...)
 * but builds its credentials with the two the other way round. For mutual TLS one provider plays
 * both parts, so the order cannot matter; for TLS alone the identity provider must come first to take
 * effect (the CA part stays null). tls-server-credentials.test.ts pins both, so a grpc-js upgrade that
 * changes this fails there rather than in production.
 */
export function tlsServerCredentials(certificates: WatchedCertificates, mutual: boolean): ServerCredentials {
  return mutual
    ? experimental.createCertificateProviderServerCredentials(certificates, certificates, true)
    : experimental.createCertificateProviderServerCredentials(certificates, null, false);
}
