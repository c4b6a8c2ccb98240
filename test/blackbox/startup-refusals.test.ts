import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSluice } from "../support/sluice-process.ts";

/**
 * `sluice serve` refusing to start on a setting it cannot use: one line naming the flag (and its
 * variable), a non-zero exit, no stack trace, and never a password from a Redis address.
 */

const POLICY = ["serve", "--policy", "deploy/policies", "--workers", "1"];
const SERVE = [...POLICY, "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"];

type Run = Awaited<ReturnType<typeof runSluice>>;

function expectRefused(result: Run, code: number, line: string, secret: string): void {
  expect(result.code).toBe(code);
  expect(result.stderr).toContain(line);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stdout).not.toContain('"msg":"serving"');
  expect(result.stdout + result.stderr).not.toContain(secret);
}

describe("a malformed Redis address", () => {
  const url = "--redis-url (SLUICE_REDIS_URL)";
  it.each([
    ["a port out of range", ["--redis-url", "redis://:s3cret@127.0.0.1:99999"], `${url}: port 99999`],
    [
      "a broken %-escape in the password",
      ["--redis-url", "redis://:s3c%zzret@127.0.0.1:6379"],
      `${url}: malformed %-escape`,
    ],
    [
      "a database that is not a number",
      ["--redis-url", "redis://:s3cret@127.0.0.1:6379/abc"],
      `${url}: database`,
    ],
    [
      "a Cluster seed with a broken %-escape",
      ["--redis-cluster", "redis://:s3c%zzret@127.0.0.1:7000"],
      "--redis-cluster (SLUICE_REDIS_CLUSTER): malformed %-escape",
    ],
    [
      "a Cluster seed whose host is no host name",
      ["--redis-cluster", "redis://:s3cret@a<b:7000"],
      "--redis-cluster (SLUICE_REDIS_CLUSTER): ",
    ],
    [
      "a sentinel with a broken %-escape",
      ["--redis-sentinel", "redis://:s3c%zzret@127.0.0.1:26379", "--redis-sentinel-master", "m"],
      "--redis-sentinel (SLUICE_REDIS_SENTINEL): malformed %-escape",
    ],
  ])("%s: exit 2 naming the flag, the password masked", async (_case, args, line) => {
    const result = await runSluice([...SERVE, ...args]);
    expectRefused(result, 2, `sluice serve: ${line}`, "s3c");
    expect(result.stderr).toContain("***@");
  });

  it("names the variable's value the same way when the address came from the environment", async () => {
    const result = await runSluice(SERVE, { SLUICE_REDIS_URL: "redis://:s3c%zzret@127.0.0.1:6379" });
    expectRefused(result, 2, `sluice serve: ${url}: malformed %-escape`, "s3c");
    expect(result.stderr).toContain('"redis://***@127.0.0.1:6379"');
  });
});

describe("a listen address already in use", () => {
  let holder: Server;
  let taken = "";

  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const address = holder.address();
    taken = `127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => holder.close(resolve));
  });

  it.each([
    [
      "--grpc-addr (SLUICE_GRPC_ADDR)",
      (addr: string) => ["--grpc-addr", addr, "--admin-addr", "127.0.0.1:0"],
    ],
    [
      "--admin-addr (SLUICE_ADMIN_ADDR)",
      (addr: string) => ["--grpc-addr", "127.0.0.1:0", "--admin-addr", addr],
    ],
  ])("%s: one line naming the flag and the address, exit 1, no stack", async (named, addrs) => {
    const result = await runSluice([...POLICY, ...addrs(taken)]);
    expectRefused(
      result,
      1,
      `sluice serve: ${named}: cannot listen on ${taken}: address already in use\n`,
      "Error",
    );
  });
});
