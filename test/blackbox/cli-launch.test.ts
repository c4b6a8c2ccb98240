import { execFile, execFileSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin/sluice.js");

/** The machine's own `node` when it is older than 24 (what `node bin/sluice.js` meets on a fresh machine). */
function olderNode(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "" || dir.startsWith(ROOT)) continue;
    try {
      const path = join(dir, "node");
      const version = execFileSync(path, ["--version"], { encoding: "utf8" }).trim();
      return Number(/^v(\d+)/.exec(version)?.[1]) < 24 ? path : undefined;
    } catch {}
  }
  return undefined;
}

/** The environment without the project's node_modules/.bin, as in a shell on the machine. */
function machineEnv(): NodeJS.ProcessEnv {
  const path = (process.env.PATH ?? "").split(delimiter).filter((d) => !d.startsWith(ROOT));
  return { ...process.env, PATH: path.join(delimiter) };
}

const node = olderNode();

describe.skipIf(node === undefined)("bin/sluice.js started by an older Node", () => {
  it("runs the command on the project's Node 24 instead of failing on the .ts sources", async () => {
    const result = await run(node as string, [BIN, "check", "deploy/policies"], {
      cwd: ROOT,
      env: machineEnv(),
    });
    expect(result.stdout).toMatch(/^api: \d+ rules/);
    expect(result.stderr).toBe("");
  });

  it("passes the exit code through", async () => {
    const failed = await run(node as string, [BIN, "check"], { cwd: ROOT, env: machineEnv() }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed).toMatchObject({ code: 2 });
  });

  it("says what to do when the project's Node 24 is not installed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-no-node24-"));
    try {
      await mkdir(join(dir, "bin"));
      await copyFile(BIN, join(dir, "bin/sluice.js"));
      const failed = await run(node as string, [join(dir, "bin/sluice.js"), "--version"], {
        env: machineEnv(),
      }).catch((error: { code: number; stderr: string }) => error);
      expect(failed).toMatchObject({ code: 1 });
      expect((failed as { stderr: string }).stderr).toMatch(/needs Node\.js 24.*npm ci/s);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("npx sluice", () => {
  it("runs without npm's EBADENGINE warnings", async () => {
    // npx installs the project into its own cache (where npm checks `engines`) only on a first run:
    // an empty cache makes every run a first one.
    const cache = await mkdtemp(join(tmpdir(), "sluice-npm-cache-"));
    try {
      const result = await run("npm", ["exec", "--offline", "--cache", cache, "--", "sluice", "--version"], {
        cwd: ROOT,
        env: machineEnv(),
      });
      expect(result.stdout).toMatch(/^sluice \d+\.\d+\.\d+/);
      expect(result.stderr).not.toContain("EBADENGINE");
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
