import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import {
  cliAuth,
  cliTls,
  launchRedis,
  type RedisServer,
  type RedisTlsFiles,
  redisCli,
  startWithRetry,
  until,
} from "./redis-server.ts";

/**
 * A Redis Sentinel setup for tests: a master, one replica and three sentinels (quorum 2), each a
 * real process on a free loopback port with its own temp directory, stopped by its PID. Sentinels
 * declare the master down after DOWN_AFTER_MS, so a failover takes seconds, not the default 30 s.
 */

export const MASTER_NAME = "sluice-test";
const DOWN_AFTER_MS = 1_000;
const FAILOVER_TIMEOUT_MS = 5_000;

export interface SentinelOptions {
  /** `requirepass` of the master and replica (and `masterauth`, `sentinel auth-pass`). */
  readonly masterPassword?: string;
  /** `requirepass` of the sentinels themselves (and `sentinel sentinel-pass` between them). */
  readonly sentinelPassword?: string;
  /** Every process speaks only TLS, replication and sentinel links included. */
  readonly tls?: RedisTlsFiles;
}

export interface RedisSentinelSetup {
  readonly masterName: string;
  /** `127.0.0.1:<port>` of each sentinel. */
  readonly sentinels: string[];
  /** The two data nodes, started as master and replica; their roles change with failovers. */
  readonly data: RedisServer[];
  /** The data node the sentinels name as master now (asked of the first sentinel that answers). */
  master(): Promise<RedisServer>;
  /** redis-cli on a data node, with its password. */
  cli(server: RedisServer, ...args: string[]): Promise<string>;
  /** redis-cli on the first sentinel, with its password. */
  sentinelCli(...args: string[]): Promise<string>;
  /** Waits until every sentinel names a master other than `old` and that node says `role:master`. */
  waitForNewMaster(old: RedisServer, timeoutMs: number): Promise<RedisServer>;
  /**
   * Waits until a failover could happen: the node that is not the master replicates from it and
   * the sentinels list it as a healthy replica.
   */
  waitForReplica(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisSentinel(options: SentinelOptions = {}): Promise<RedisSentinelSetup> {
  const { masterPassword, sentinelPassword, tls } = options;
  const tlsLinks = tls ? ["--tls-replication", "yes"] : [];
  const dataAuth =
    masterPassword === undefined ? [] : ["--requirepass", masterPassword, "--masterauth", masterPassword];
  const started: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  const launchData = (extra: string[]) =>
    startWithRetry(async () => {
      const server = await launchRedis({
        port: await freePort(),
        password: masterPassword,
        tls,
        extra: [...dataAuth, ...tlsLinks, ...extra],
      });
      started.push(server);
      return server;
    }, true);
  const cli = (server: RedisServer, ...args: string[]) =>
    redisCli([...cliTls(tls), ...cliAuth(masterPassword), "-p", String(server.port), ...args]);
  const askSentinel = (port: number, ...args: string[]) =>
    redisCli([...cliTls(tls), ...cliAuth(sentinelPassword), "-p", String(port), ...args]);

  try {
    const first = await launchData([]);
    const replica = await launchData(["--replicaof", "127.0.0.1", String(first.port)]);
    const data = [first, replica];
    await until(
      async () => (await cli(replica, "info", "replication")).includes("master_link_status:up"),
      "replica in sync",
    );

    const sentinels: RedisServer[] = [];
    for (let n = 0; n < 3; n++) {
      const sentinel = await startWithRetry(async () => {
        const server = await launchRedis({
          port: await freePort(),
          password: sentinelPassword,
          tls,
          extra: [
            ...tlsLinks,
            ...(sentinelPassword === undefined ? [] : ["--requirepass", sentinelPassword]),
          ],
          configFile: async (dir) => {
            const file = join(dir, "sentinel.conf");
            await writeFile(file, sentinelConfig(first.port, options));
            return file;
          },
        });
        started.push(server);
        return server;
      }, true);
      sentinels.push(sentinel);
    }
    // Sentinels find the replica from the master's INFO and each other through hello messages
    // (every 2 s); a failover needs both.
    for (const sentinel of sentinels) {
      await until(async () => {
        const fields = await askSentinel(sentinel.port, "sentinel", "master", MASTER_NAME).catch(() => "");
        return /num-slaves\n1\n/.test(fields) && /num-other-sentinels\n2\n/.test(fields);
      }, `sentinel on port ${sentinel.port} to see the replica and the other sentinels`);
    }

    const namedMaster = async (port: number): Promise<RedisServer | undefined> => {
      const reply = await askSentinel(port, "sentinel", "get-master-addr-by-name", MASTER_NAME).catch(
        () => "",
      );
      const masterPort = Number(reply.split("\n")[1]);
      return data.find((s) => s.port === masterPort);
    };
    const master = async (): Promise<RedisServer> => {
      for (const sentinel of sentinels) {
        const named = await namedMaster(sentinel.port);
        if (named !== undefined) return named;
      }
      throw new Error("no sentinel names a master");
    };
    return {
      masterName: MASTER_NAME,
      sentinels: sentinels.map((s) => `127.0.0.1:${s.port}`),
      data,
      master,
      cli,
      sentinelCli: (...args) => askSentinel(sentinels[0]?.port ?? 0, ...args),
      async waitForNewMaster(old, timeoutMs) {
        let found: RedisServer | undefined;
        await until(
          async () => {
            const named = await Promise.all(sentinels.map((s) => namedMaster(s.port)));
            const next = named[0];
            if (next === undefined || next === old || named.some((n) => n !== next)) return false;
            found = next;
            return (await cli(next, "info", "replication").catch(() => "")).includes("role:master");
          },
          "the sentinels to promote a new master",
          timeoutMs,
        );
        if (found === undefined) throw new Error("no new master");
        return found;
      },
      async waitForReplica(timeoutMs) {
        await until(
          async () => {
            const current = await master();
            const replica = data.find((s) => s !== current);
            if (replica === undefined) return false;
            const replication = await cli(replica, "info", "replication").catch(() => "");
            const listed = await askSentinel(sentinels[0]?.port ?? 0, "sentinel", "replicas", MASTER_NAME);
            return (
              replication.includes("master_link_status:up") &&
              listed.includes(String(replica.port)) &&
              !/s_down|o_down|disconnected/.test(listed)
            );
          },
          "a replica in sync and known to the sentinels",
          timeoutMs,
        );
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function sentinelConfig(masterPort: number, options: SentinelOptions): string {
  return [
    `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
    `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
    `sentinel failover-timeout ${MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
    ...(options.masterPassword === undefined
      ? []
      : [`sentinel auth-pass ${MASTER_NAME} ${options.masterPassword}`]),
    ...(options.sentinelPassword === undefined ? [] : [`sentinel sentinel-pass ${options.sentinelPassword}`]),
    "",
  ].join("\n");
}
