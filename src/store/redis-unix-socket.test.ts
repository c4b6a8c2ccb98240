import { describe, expect, it } from "vitest";
import { isUnixSocketUrl, parseUnixSocketUrl } from "./redis-unix-socket.ts";

describe("parseUnixSocketUrl", () => {
  it.each([
    ["unix:///run/redis.sock", { path: "/run/redis.sock" }],
    ["unix://:s3cret@/run/redis.sock", { path: "/run/redis.sock", password: "s3cret" }],
    [
      "unix://app:p%40ss%3Aw@/run/redis.sock?db=2",
      { path: "/run/redis.sock", username: "app", password: "p@ss:w", db: 2 },
    ],
    ["unix://app@/run/redis.sock", { path: "/run/redis.sock", username: "app" }],
    ["unix:///run/a%3Fb%25.sock", { path: "/run/a?b%.sock" }],
    ["UNIX:///run/@at.sock", { path: "/run/@at.sock" }],
  ])("reads %j", (text, address) => {
    expect(isUnixSocketUrl(text)).toBe(true);
    expect(parseUnixSocketUrl(text)).toEqual({ ok: true, address });
  });

  it.each([
    ["unix://", "expected an absolute socket path"],
    ["unix:///", "expected an absolute socket path"],
    ["unix://relative.sock", "expected an absolute socket path"],
    ["unix:///run/redis.sock?db=1&password=x", 'unknown parameter "password"'],
    ["unix:///run/redis.sock?db=", 'database "" is not a number'],
    ["unix:///run/%00.sock", "NUL byte"],
    ["unix:///run/%zz.sock", "malformed %-escape"],
    [`unix:///${"x".repeat(107)}`, "longer than 107 bytes"],
  ])("refuses %j", (text, problem) => {
    const parsed = parseUnixSocketUrl(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toContain(problem);
  });

  it("takes a path of 107 bytes, the most a socket path holds", () => {
    expect(parseUnixSocketUrl(`unix:///${"x".repeat(106)}`).ok).toBe(true);
  });

  it("tells unix:// from other schemes", () => {
    expect(isUnixSocketUrl("redis://h:6379")).toBe(false);
    expect(isUnixSocketUrl("/run/redis.sock")).toBe(false);
  });
});
