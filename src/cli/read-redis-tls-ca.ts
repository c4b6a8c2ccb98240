import { readFileSync } from "node:fs";

/**
 * The --redis-tls-ca file's PEM, read once at start; an unreadable file is an error to stop on, not
 * a reason to connect with the system's CAs and fail every call later.
 */
export function readRedisTlsCa(
  file: string | undefined,
): { ok: true; ca?: Buffer } | { ok: false; error: string } {
  if (file === undefined) return { ok: true };
  try {
    return { ok: true, ca: readFileSync(file) };
  } catch (error) {
    return { ok: false, error: `--redis-tls-ca: ${error instanceof Error ? error.message : String(error)}` };
  }
}
