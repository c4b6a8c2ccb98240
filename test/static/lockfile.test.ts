import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ESM script without type declarations.
import { missingOptionalEntries, platformOf } from "../../scripts/complete-lockfile.mjs";

// `npm ci` refuses a lock file that lacks optional platform packages, and `npm install` on this
// project's machines drops them (the registry serves only linux builds). Run
// `node scripts/complete-lockfile.mjs` after `npm install` when this fails.
describe("package-lock.json", () => {
  it("lists every optional platform package, so npm ci accepts it", () => {
    const lock = JSON.parse(readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8"));
    expect(Object.keys(missingOptionalEntries(lock))).toEqual([]);
  });

  it.each([
    ["@rollup/rollup-linux-arm-musleabihf", { os: ["linux"], cpu: ["arm"], libc: ["musl"] }],
    ["@rollup/rollup-win32-x64-msvc", { os: ["win32"], cpu: ["x64"] }],
    ["@biomejs/cli-linux-x64-musl", { os: ["linux"], cpu: ["x64"], libc: ["musl"] }],
    ["@rollup/rollup-linux-x64-gnu", { os: ["linux"], cpu: ["x64"], libc: ["glibc"] }],
    ["@bufbuild/buf-linux-armv7", { os: ["linux"], cpu: ["arm"] }],
  ])("infers the platform of %s", (name, platform) => {
    expect(platformOf(name)).toEqual(platform);
  });
});
