import { describe, expect, it } from "vitest";
import { listenOn } from "./listen-on.ts";

const failing = (error: unknown) => () => Promise.reject(error);

describe("listenOn", () => {
  it("hands back the started server", async () => {
    expect(await listenOn("grpcAddr", { host: "::", port: 0 }, async () => "server")).toEqual({
      ok: true,
      server: "server",
    });
  });

  it.each([
    [
      "a Node error's code",
      Object.assign(new Error("listen EACCES: permission denied 0.0.0.0:80"), { code: "EACCES" }),
      "--admin-addr (SLUICE_ADMIN_ADDR): cannot listen on 0.0.0.0:80: permission denied (ports below 1024 need privileges)",
    ],
    [
      "a code grpc-js words into its message",
      new Error(
        "No address added out of total 1 resolved errors: [listen EADDRINUSE: address already in use]",
      ),
      "--admin-addr (SLUICE_ADMIN_ADDR): cannot listen on 0.0.0.0:80: address already in use",
    ],
    [
      "anything else, as worded, first line only",
      new Error("Name resolution failed\n  more"),
      "--admin-addr (SLUICE_ADMIN_ADDR): cannot listen on 0.0.0.0:80: Name resolution failed",
    ],
  ])("words %s as one line naming the option and the address", async (_case, error, line) => {
    expect(await listenOn("adminAddr", { host: "0.0.0.0", port: 80 }, failing(error))).toEqual({
      ok: false,
      error: line,
    });
  });

  it("writes an IPv6 address in brackets", async () => {
    const result = await listenOn(
      "grpcAddr",
      { host: "::1", port: 8081 },
      failing({ code: "EADDRNOTAVAIL" }),
    );
    expect(result).toEqual({
      ok: false,
      error: "--grpc-addr (SLUICE_GRPC_ADDR): cannot listen on [::1]:8081: no such address on this host",
    });
  });
});
