import { describe, expect, it } from "vitest";
import type { Logger } from "../log/logger.ts";
import { connectionErrorLog } from "./connection-error-log.ts";

describe("connectionErrorLog", () => {
  it("logs each message once per 30 s, however often it repeats", () => {
    const lines: string[] = [];
    const logger = { warn: (fields: { err: string }) => lines.push(fields.err) } as unknown as Logger;
    let now = 0;
    const log = connectionErrorLog(logger, () => now);
    // 50 s of an error every 250 ms: logged at 0 s and at 30 s.
    for (let i = 0; i < 200; i++) {
      log(new Error("connect ECONNREFUSED"));
      now += 250;
    }
    log(new Error("self-signed certificate"));
    expect(lines).toEqual(["connect ECONNREFUSED", "connect ECONNREFUSED", "self-signed certificate"]);
  });
});
