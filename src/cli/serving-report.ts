import type { LogFormat, Logger } from "../log/logger.ts";
import { withoutCredentials } from "../settings/redis-settings.ts";
import type { HostPort, Settings } from "../settings/settings.ts";
import { storeKind } from "../store/create-counter-store.ts";
import { VERSION } from "./version.ts";

/** What the one "serving" report says once the ports are bound. */
export interface ServingReport {
  readonly grpc: HostPort;
  readonly admin: HostPort;
  readonly settings: Settings;
  readonly domains: readonly string[];
  /** Record fields beyond the report's own, for the JSON record only (policyGeneration, ...). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

/**
 * Logs that Sluice serves. JSON logs get the machine record (`msg: "serving"` with the bound ports,
 * which test/support/sluice-process.ts and scripts wait for) and the readable line on stderr, for
 * whoever started it by hand; text logs get only the readable line.
 */
export function reportServing(logger: Logger, format: LogFormat, report: ServingReport): void {
  const line = describeServing(report);
  if (format === "text") {
    logger.info(line);
    return;
  }
  const { grpc, admin, settings, domains } = report;
  logger.info(
    {
      version: VERSION,
      grpcAddr: address(grpc),
      adminAddr: address(admin),
      grpcPort: grpc.port,
      adminPort: admin.port,
      store: storeKind(settings),
      workers: settings.workers,
      domains,
      ...report.fields,
    },
    "serving",
  );
  process.stderr.write(`${line}\n`);
}

/**
 * `sluice 0.1.0 serving gRPC on 0.0.0.0:8081, admin on http://0.0.0.0:9102 (node v24.1.0); store
 * redis redis://***@redis:6379; policy deploy/policies (domains: api)`. Store passwords are masked:
 * the line goes wherever logs go.
 */
export function describeServing({ grpc, admin, settings, domains }: ServingReport): string {
  const store = [storeKind(settings), storeAddress(settings)].filter((s) => s !== undefined).join(" ");
  const workers = settings.workers > 1 ? `; ${settings.workers} workers` : "";
  return (
    `sluice ${VERSION} serving gRPC on ${address(grpc)}, admin on http://${address(admin)} (node ${process.version}); ` +
    `store ${store}; policy ${settings.policyPaths.join(", ")} (domains: ${domains.join(", ")})${workers}`
  );
}

function storeAddress({ redisUrl, redisCluster, redisSentinel }: Settings): string | undefined {
  if (redisUrl !== undefined) return withoutCredentials(redisUrl);
  if (redisCluster !== undefined) return redisCluster.map(withoutCredentials).join(",");
  if (redisSentinel !== undefined)
    return `${redisSentinel.masterName} via ${redisSentinel.nodes.map(withoutCredentials).join(",")}`;
  return undefined;
}

function address({ host, port }: HostPort): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
