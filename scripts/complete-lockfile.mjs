#!/usr/bin/env node
// The npm registry reachable from this project's machines serves only the platform packages of
// linux x64/arm64 (glibc). `npm install` then drops every other platform's optional binary
// (biome, buf, rollup) from package-lock.json, and `npm ci` refuses the incomplete lock file.
// This adds the missing optional entries with their os/cpu/libc, so `npm ci` skips them here
// (wrong platform) and fetches them by name and version on the platforms that need them.
// Run after every `npm install`: `node scripts/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from "node:fs";

const LOCK = new URL("../package-lock.json", import.meta.url);
const OS = [
  "android",
  "darwin",
  "freebsd",
  "linux",
  "openbsd",
  "openharmony",
  "win32",
  "netbsd",
  "sunos",
  "aix",
];
const CPU = { arm64: "arm64", x64: "x64", ia32: "ia32", armv7: "arm", arm: "arm", loong64: "loong64" };
Object.assign(CPU, { ppc64: "ppc64", riscv64: "riscv64", s390x: "s390x" });

/** Platform fields from a package name such as `@rollup/rollup-linux-arm-musleabihf`. */
export function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.map((p) => CPU[p]).find(Boolean);
  const libc = parts.some((p) => p.startsWith("musl"))
    ? ["musl"]
    : parts.includes("gnu")
      ? ["glibc"]
      : undefined;
  return os && cpu ? { os: [os], cpu: [cpu], ...(libc ? { libc } : {}) } : undefined;
}

export function missingOptionalEntries(lock) {
  const added = {};
  for (const [path, entry] of Object.entries(lock.packages)) {
    for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
      const key = `node_modules/${name}`;
      if (lock.packages[key] || lock.packages[`${path}/${key}`] || added[key]) continue;
      const platform = platformOf(name);
      if (!platform || !/^\d+\.\d+\.\d+/.test(version)) {
        throw new Error(
          `${name}@${version} (needed by ${path || "root"}): cannot infer its platform or exact version`,
        );
      }
      added[key] = { version, ...platform, optional: true, ...(entry.dev ? { dev: true } : {}) };
    }
  }
  return added;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const lock = JSON.parse(readFileSync(LOCK, "utf8"));
  const added = missingOptionalEntries(lock);
  Object.assign(lock.packages, added);
  writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`complete-lockfile: added ${Object.keys(added).length} optional platform entries`);
}
