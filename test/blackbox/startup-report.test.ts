import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrape } from "../support/metrics-text.ts";
import { runSluice, type SluiceProcess, startSluice, stopProcess } from "../support/sluice-process.ts";

const BIN = fileURLToPath(new URL("../../bin/sluice.js", import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
// Nothing listens on port 1: the store is unreachable, which serve tolerates at start.
const REDIS_URL = "redis://:hunter2@127.0.0.1:1/0";

describe("startup with the default JSON logs", () => {
  let sluice: SluiceProcess;

  beforeAll(async () => {
    sluice = await startSluice(["--policy", "deploy/policies/api.yaml"]);
  });

  afterAll(async () => {
    await sluice?.stop();
  });

  it("logs the serving record as JSON on stdout, with the version and the addresses", () => {
    const record = sluice
      .output()
      .split("\n")
      .filter((l) => l.includes('"msg":"serving"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(record).toEqual([
      expect.objectContaining({ version: VERSION, grpcAddr: sluice.grpcAddress, store: "memory" }),
    ]);
  });

  it("also says it in one human line on stderr", async () => {
    const port = sluice.grpcAddress.split(":")[1];
    const version = VERSION.replaceAll(".", "\\.");
    // stderr is a separate pipe: the line may arrive just after the JSON record the harness waited for.
    await expect
      .poll(() => sluice.output())
      .toMatch(
        new RegExp(
          `^sluice ${version} serving gRPC on 127\\.0\\.0\\.1:${port}, admin on http://127\\.0\\.0\\.1:\\d+ .*store memory; policy deploy/policies/api\\.yaml \\(domains: api\\)$`,
          "m",
        ),
      );
  });

  it("exports sluice_build_info with the version and the Node version", async () => {
    const text = await scrape(sluice.adminUrl);
    expect(text).toMatch(
      new RegExp(
        `^sluice_build_info\\{version="${VERSION.replaceAll(".", "\\.")}",node="v24\\.[^"]+"\\} 1$`,
        "m",
      ),
    );
  });
});

describe("startup with --log-format text", () => {
  it("prints one readable serving line on stdout (hosts, masked store address, policy, domains) and no JSON", async () => {
    const child = spawn(
      process.execPath,
      [
        ...[BIN, "serve", "--policy", "deploy/policies/api.yaml", "--log-format", "text"],
        ...["--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--workers", "1"],
        ...["--redis-url", REDIS_URL],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    // stderr would carry a JSON-mode readable line; in text mode there is none, so both read as one.
    let stdout = "";
    for (const stream of [child.stdout, child.stderr]) {
      stream.on("data", (c: Buffer) => {
        stdout += c.toString();
      });
    }
    try {
      await expect.poll(() => stdout, { timeout: 20_000 }).toContain(" serving gRPC on ");
    } finally {
      await stopProcess(child, 5_000);
    }
    const serving = stdout.split("\n").find((l) => l.includes(" serving gRPC on ")) ?? "";
    expect(serving).toMatch(
      /INFO +sluice \S+ serving gRPC on 127\.0\.0\.1:\d+, admin on http:\/\/127\.0\.0\.1:\d+/,
    );
    expect(serving).toContain("store redis redis://***@127.0.0.1:1/0");
    expect(serving).toContain("policy deploy/policies/api.yaml (domains: api)");
    expect(stdout).not.toContain("hunter2");
    expect(stdout).not.toMatch(/^\{/m);
    expect(stdout.match(/ serving gRPC on /g)).toHaveLength(1);
  });

  it("refuses a log format it does not know", async () => {
    const { code, stderr } = await runSluice([
      "serve",
      "--policy",
      "deploy/policies",
      "--log-format",
      "yaml",
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('--log-format (SLUICE_LOG_FORMAT): expected one of json, text, got "yaml"');
  });
});
