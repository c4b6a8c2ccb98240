import { copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CertificateFiles,
  createTestPki,
  type TestPki,
} from "../../../test/support/test-certificates.ts";
import { watchCertificates } from "./watched-certificates.ts";

describe("watchCertificates", () => {
  let pki: TestPki;
  let ca: CertificateFiles;
  let first: CertificateFiles;
  let second: CertificateFiles;

  beforeAll(async () => {
    pki = await createTestPki();
    ca = await pki.createCa("ca");
    first = await pki.issue(ca, "first", "server");
    second = await pki.issue(ca, "second", "server");
  });
  afterAll(async () => {
    await pki?.remove();
  });

  /** Serving copies of `first`, which the test then overwrites. */
  async function servingFiles(name: string) {
    const certFile = join(pki.dir, `${name}-serving.crt`);
    const keyFile = join(pki.dir, `${name}-serving.key`);
    await copyFile(first.certFile, certFile);
    await copyFile(first.keyFile, keyFile);
    return { certFile, keyFile, clientCaFile: ca.certFile };
  }

  it("hands the files to listeners at once, and the client CA when there is one", async () => {
    const files = await servingFiles("initial");
    const watched = watchCertificates(files, { intervalMs: 60_000 });
    const identity = new Promise((resolve) => watched.addIdentityCertificateListener(resolve));
    const caUpdate = new Promise((resolve) => watched.addCaCertificateListener(resolve));
    expect(await identity).toEqual({ certificate: first.cert, privateKey: first.key });
    expect(await caUpdate).toEqual({ caCertificate: ca.cert });
    watched.close();
  });

  it("reports no client CA when none is configured", async () => {
    const { certFile, keyFile } = await servingFiles("no-ca");
    const watched = watchCertificates({ certFile, keyFile }, { intervalMs: 60_000 });
    expect(await new Promise((resolve) => watched.addCaCertificateListener(resolve))).toBeNull();
    watched.close();
  });

  it("takes up rotated files, telling listeners only when something changed", async () => {
    const files = await servingFiles("rotate");
    const reloads: string[] = [];
    const updates: unknown[] = [];
    const watched = watchCertificates(files, { intervalMs: 60_000, onReload: () => reloads.push("reload") });
    watched.addIdentityCertificateListener((update) => updates.push(update));
    await new Promise((resolve) => process.nextTick(resolve));
    await watched.refresh();
    expect(updates).toHaveLength(1);

    await copyFile(second.certFile, files.certFile);
    await copyFile(second.keyFile, files.keyFile);
    await watched.refresh();
    expect(updates.at(-1)).toEqual({ certificate: second.cert, privateKey: second.key });
    expect(reloads).toEqual(["reload"]);
    watched.close();
  });

  it("keeps the previous set while a rotation is half written, and reports why", async () => {
    const files = await servingFiles("half");
    const errors: string[] = [];
    const updates: unknown[] = [];
    const watched = watchCertificates(files, { intervalMs: 60_000, onError: (e) => errors.push(e.message) });
    watched.addIdentityCertificateListener((update) => updates.push(update));
    await new Promise((resolve) => process.nextTick(resolve));

    // The new certificate is in place, its key not yet.
    await copyFile(second.certFile, files.certFile);
    await watched.refresh();
    expect(updates).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/key values mismatch/);

    await copyFile(second.keyFile, files.keyFile);
    await watched.refresh();
    expect(updates.at(-1)).toEqual({ certificate: second.cert, privateKey: second.key });
    watched.close();
  });

  it("refuses to start on files that are not a usable certificate and key", async () => {
    const garbage = join(pki.dir, "garbage.pem");
    await writeFile(garbage, "not a certificate\n");
    expect(() =>
      watchCertificates({ certFile: garbage, keyFile: first.keyFile }, { intervalMs: 60_000 }),
    ).toThrow();
    expect(() =>
      watchCertificates({ certFile: first.certFile, keyFile: second.keyFile }, { intervalMs: 60_000 }),
    ).toThrow(/key values mismatch/);
    expect(() =>
      watchCertificates(
        { certFile: join(pki.dir, "missing.crt"), keyFile: first.keyFile },
        { intervalMs: 60_000 },
      ),
    ).toThrow(/ENOENT/);
  });
});
