import { describe, expect, it } from "vitest";
import { formatRecord } from "./text-log-stream.ts";

describe("formatRecord", () => {
  const base = {
    level: 30,
    time: Date.UTC(2025, 0, 2, 3, 4, 5, 6),
    pid: 1,
    hostname: "h",
    service: "sluice",
  };

  it("writes time, level and message, then the record's own fields as key=value", () => {
    expect(formatRecord({ ...base, msg: "policy reloaded", generation: 2, paths: ["a b"] })).toBe(
      '2025-01-02T03:04:05.006Z INFO  policy reloaded generation=2 paths=["a b"]',
    );
  });

  it("quotes a string field only when it needs it", () => {
    expect(formatRecord({ ...base, level: 40, msg: "m", store: "redis", reason: "timed out" })).toBe(
      '2025-01-02T03:04:05.006Z WARN  m store=redis reason="timed out"',
    );
  });

  it("puts an error's message on the line and its stack below", () => {
    const err = { type: "Error", message: "boom", stack: "Error: boom\n    at x" };
    expect(formatRecord({ ...base, level: 50, msg: "failed", err })).toBe(
      '2025-01-02T03:04:05.006Z ERROR failed err="boom"\nError: boom\n    at x',
    );
  });
});
