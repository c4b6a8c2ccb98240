import { describe, expect, it } from "vitest";
import { parseSettings } from "../settings/settings.ts";
import { describeServing } from "./serving-report.ts";
import { VERSION } from "./version.ts";

function settingsOf(argv: string[]) {
  const parsed = parseSettings(["--policy", "deploy/policies", ...argv], {});
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  return parsed.settings;
}

describe("describeServing", () => {
  const ports = {
    grpc: { host: "0.0.0.0", port: 8081 },
    admin: { host: "::", port: 9102 },
    domains: ["api", "b"],
  };

  it("names the version, both addresses with their hosts, the store and the policy", () => {
    expect(describeServing({ ...ports, settings: settingsOf([]) })).toBe(
      `sluice ${VERSION} serving gRPC on 0.0.0.0:8081, admin on http://[::]:9102 (node ${process.version}); store memory; policy deploy/policies (domains: api, b)`,
    );
  });

  it("masks store passwords and counts workers", () => {
    const line = describeServing({
      ...ports,
      settings: settingsOf(["--redis-url", "rediss://user:s3cret@redis:6380/2", "--workers", "3"]),
    });
    expect(line).toContain("; store redis rediss://***@redis:6380/2;");
    expect(line).toMatch(/; 3 workers$/);
    expect(line).not.toContain("s3cret");
  });

  it("shows Cluster seeds and Sentinels masked too", () => {
    expect(
      describeServing({
        ...ports,
        settings: settingsOf(["--redis-cluster", "redis://:pw@a:7000,redis://:pw@b:7001"]),
      }),
    ).toContain("store redis-cluster redis://***@a:7000,redis://***@b:7001;");
    expect(
      describeServing({
        ...ports,
        settings: settingsOf(["--redis-sentinel", "s1:26379", "--redis-sentinel-master", "main"]),
      }),
    ).toContain("store redis-sentinel main via s1:26379;");
  });
});
