import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM files of one certificate and its key, on disk and in memory. */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestPki {
  readonly dir: string;
  /** A fresh CA (self-signed, P-256, valid one day). */
  createCa(name: string): Promise<CertificateFiles>;
  /** A certificate for `127.0.0.1` and `localhost`, issued by `ca`, for serving or for clients. */
  issue(ca: CertificateFiles, name: string, use: "server" | "client"): Promise<CertificateFiles>;
  /** Removes every file. */
  remove(): Promise<void>;
}

/**
 * Certificates made at test time with the openssl command line (Debian ships it), in a temp
 * directory: nothing secret is committed, and every run has its own CA.
 */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), "sluice-pki-"));
  const openssl = (args: string[]) => run("openssl", args, { cwd: dir });
  const load = async (name: string): Promise<CertificateFiles> => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
  };
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  return {
    dir,
    async createCa(name) {
      await openssl(
        ["req", "-x509", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.crt`].concat([
          "-days",
          "1",
          "-subj",
          `/CN=${name}`,
        ]),
      );
      return load(name);
    },
    async issue(ca, name, use) {
      const extensions = join(dir, `${name}.ext`);
      await writeFile(
        extensions,
        [
          "subjectAltName=DNS:localhost,IP:127.0.0.1",
          `extendedKeyUsage=${use === "server" ? "serverAuth" : "clientAuth"}`,
          "basicConstraints=CA:FALSE",
        ].join("\n"),
      );
      await openssl([
        "req",
        ...newKey,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
        "-subj",
        `/CN=${name}`,
      ]);
      await openssl(
        ["x509", "-req", "-in", `${name}.csr`, "-CA", ca.certFile, "-CAkey", ca.keyFile].concat([
          "-CAcreateserial",
          "-out",
          `${name}.crt`,
          "-days",
          "1",
          "-extfile",
          extensions,
        ]),
      );
      return load(name);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
