import { describe, expect, it } from "vitest";
import { OPTIONS, type OptionName } from "../settings/options.ts";
import { parseSettings } from "../settings/settings.ts";
import { describeFlag, serveHelp } from "./serve-help.ts";

describe("serveHelp", () => {
  it("has one entry per option, each with its variable and a description", () => {
    const help = serveHelp();
    for (const option of Object.values(OPTIONS)) {
      expect(help).toContain(`  ${option.flag} `);
      expect(help).toContain(option.env);
    }
  });

  it("states the defaults the parser really uses: giving each one explicitly changes nothing", () => {
    const argv = ["--policy", "deploy/policies"];
    const implicit = parseSettings(argv, {});
    const explicit = parseSettings(
      [
        ...argv,
        ...Object.values(OPTIONS).flatMap((o: { flag: string; default?: string }) =>
          o.default === undefined ? [] : [`${o.flag}=${o.default}`],
        ),
      ],
      {},
    );
    expect(explicit).toEqual(implicit);
    expect(implicit.ok).toBe(true);
  });

  it("formats an entry as flag, value, variable and default, then the description", () => {
    expect(describeFlag("grpcAddr" satisfies OptionName)).toBe(
      `  --grpc-addr HOST:PORT  (env SLUICE_GRPC_ADDR; ratelimit GRPC_HOST, GRPC_PORT; default 0.0.0.0:8081)\n      ${OPTIONS.grpcAddr.help}`,
    );
  });
});
