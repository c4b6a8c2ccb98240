import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.ts";
import { type RunningProcess, startProcess } from "../support/process.ts";
import { createRlsClient } from "../support/rls-client.ts";

const BIN = fileURLToPath(new URL("../../bin/", import.meta.url));
const POLICY = `domain: dropin
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 1 }
`;

/** Exit code of `node bin/healthcheck.js` with `env`. */
function healthcheck(env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(BIN, "healthcheck.js")], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: "ignore",
    });
    child.once("exit", (code) => resolve(code));
  });
}

// The image keeps envoyproxy/ratelimit's command: a Deployment that swaps images runs /bin/ratelimit
// (bin/ratelimit) with the reference's environment, probes its HTTP port, and the image's own
// HEALTHCHECK (bin/healthcheck.js) must find that port too.
describe("bin/ratelimit and bin/healthcheck.js", () => {
  let root: string;
  let ratelimit: RunningProcess;
  let httpPort: number;
  let grpcPort: number;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "sluice-entrypoint-"));
    await mkdir(join(root, "config"), { recursive: true });
    await writeFile(join(root, "config", "limits.yaml"), POLICY);
    [httpPort, grpcPort] = [await freePort(), await freePort()];
    ratelimit = await startProcess({
      name: "bin/ratelimit",
      command: "sh",
      args: [join(BIN, "ratelimit")],
      env: {
        ...process.env,
        RUNTIME_ROOT: root,
        RUNTIME_SUBDIRECTORY: "",
        HOST: "127.0.0.1",
        PORT: String(httpPort),
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: String(grpcPort),
        USE_STATSD: "false",
      },
      ready: { output: /"msg":"serving"/ },
      readyTimeoutMs: 30_000,
    });
  });

  afterAll(async () => {
    await ratelimit?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("serves the reference's configs on its ports, and its /healthcheck", async () => {
    const client = createRlsClient(`127.0.0.1:${grpcPort}`);
    try {
      const call = { domain: "dropin", descriptors: [{ entries: [{ key: "user", value: "u" }] }] };
      expect((await client.shouldRateLimit(call)).overall_code).toBe("OK");
      expect((await client.shouldRateLimit(call)).overall_code).toBe("OVER_LIMIT");
    } finally {
      client.close();
    }
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthcheck`)).status, { timeout: 10_000 })
      .toBe(200);
  });

  it("healthcheck.js finds the admin port from PORT or SLUICE_ADMIN_ADDR, and fails where nothing answers", async () => {
    await expect.poll(() => healthcheck({ PORT: String(httpPort) }), { timeout: 10_000 }).toBe(0);
    expect(await healthcheck({ SLUICE_ADMIN_ADDR: `127.0.0.1:${httpPort}` })).toBe(0);
    expect(await healthcheck({ PORT: String(await freePort()) })).toBe(1);
  });
});
