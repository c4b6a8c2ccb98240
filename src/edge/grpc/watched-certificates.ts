import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import type { experimental } from "@grpc/grpc-js";

/** PEM files the gRPC port serves TLS with; a client CA turns on mutual TLS. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA bundle client certificates must chain to; absent: clients are not asked for one. */
  readonly clientCaFile?: string | undefined;
}

export interface WatchOptions {
  /** How often the files are re-read, in ms. */
  readonly intervalMs: number;
  /** The files changed and the new set was taken into use. */
  readonly onReload?: () => void;
  /** The files changed but the new set is unusable (unreadable, not PEM, key not matching); the old set stays. */
  readonly onError?: (error: Error) => void;
}

export interface WatchedCertificates extends experimental.CertificateProvider {
  /** Re-reads the files now (the timer does this every interval). */
  refresh(): Promise<void>;
  close(): void;
}

interface Loaded {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

/**
 * Serves certificate updates to grpc-js from files that are re-read on an interval, so a rotated
 * certificate (cert-manager renewing a Secret, say) is taken up without a restart.
 *
 * Unlike grpc-js's own FileWatcherCertificateProvider it checks a new set before using it: a rotation
 * that writes the certificate and the key one after the other is seen half done at some read, and
 * grpc-js would then drop every new connection until the next read. Here a set whose key does not
 * match its certificate is refused and the previous set keeps serving. Listeners hear only of
 * changes, so the TLS context is not rebuilt every interval. The first read is synchronous and
 * throws, so `sluice serve` refuses to start on bad files rather than serving without TLS.
 */
export function watchCertificates(files: TlsFiles, options: WatchOptions): WatchedCertificates {
  let current = validated({
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ca: files.clientCaFile === undefined ? undefined : readFileSync(files.clientCaFile),
  });
  const identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  const caListeners = new Set<experimental.CaCertificateUpdateListener>();
  const identity = () => ({ certificate: current.cert, privateKey: current.key });
  const ca = () => (current.ca === undefined ? null : { caCertificate: current.ca });

  let reading: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    reading ??= (async () => {
      try {
        const next = {
          cert: await readFile(files.certFile),
          key: await readFile(files.keyFile),
          ca: files.clientCaFile === undefined ? undefined : await readFile(files.clientCaFile),
        };
        if (sameFiles(next, current)) return;
        current = validated(next);
        for (const listener of identityListeners) listener(identity());
        for (const listener of caListeners) listener(ca());
        options.onReload?.();
      } catch (error) {
        options.onError?.(error instanceof Error ? error : new Error(String(error)));
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };
  const timer = setInterval(() => void refresh(), options.intervalMs);
  timer.unref();

  return {
    addIdentityCertificateListener(listener) {
      identityListeners.add(listener);
      process.nextTick(listener, identity());
    },
    removeIdentityCertificateListener(listener) {
      identityListeners.delete(listener);
    },
    addCaCertificateListener(listener) {
      caListeners.add(listener);
      process.nextTick(listener, ca());
    },
    removeCaCertificateListener(listener) {
      caListeners.delete(listener);
    },
    refresh,
    close() {
      clearInterval(timer);
    },
  };
}

/** The set as read, once Node's TLS accepts it: PEM that parses, and a key that matches its certificate. */
function validated(files: Loaded): Loaded {
  createSecureContext({ cert: files.cert, key: files.key, ca: files.ca });
  return files;
}

function sameFiles(a: Loaded, b: Loaded): boolean {
  const same = (x: Buffer | undefined, y: Buffer | undefined) =>
    x === undefined || y === undefined ? x === y : x.equals(y);
  return same(a.cert, b.cert) && same(a.key, b.key) && same(a.ca, b.ca);
}
