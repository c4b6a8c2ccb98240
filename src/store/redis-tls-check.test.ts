import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { clusterTlsCheck } from "./redis-tls-check.ts";

describe("clusterTlsCheck", () => {
  it("reports why the handshake failed, naming the seed, at most once per 30 s", async () => {
    const reports: string[] = [];
    let now = 0;
    // Port 1 on loopback refuses connections: the handshake fails before it starts.
    const check = clusterTlsCheck(
      { host: "127.0.0.1", port: 1 },
      undefined,
      (e) => reports.push(e.message),
      () => now,
    );
    check();
    now += 29_999;
    check();
    await expect.poll(() => reports.length).toBe(1);
    now += 1;
    check();
    await expect.poll(() => reports.length).toBe(2);
    await sleep(50);
    expect(reports).toEqual([
      expect.stringMatching(/^TLS to 127\.0\.0\.1:1: .*ECONNREFUSED/),
      expect.any(String),
    ]);
  });
});
