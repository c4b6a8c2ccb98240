import { Redis, type RedisOptions } from "ioredis";

/** The channel on which every sentinel announces a new master: `<name> <old ip> <old port> <new ip> <new port>`. */
const SWITCH_MASTER = "+switch-master";

export interface SentinelFailoverWatchOptions {
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  readonly masterName: string;
  /** Credentials, TLS and timeouts of a sentinel connection. */
  readonly sentinelOptions: RedisOptions;
  /** Delay before reconnect attempt `times` to a sentinel, in ms. */
  readonly retryDelayMs: (times: number) => number;
  /** Called for each announcement of a new master for `masterName`. */
  readonly onSwitch: (master: { host: string; port: number }) => void;
  readonly onError?: ((error: Error) => void) | undefined;
}

/**
 * Listens on every sentinel for the announcement of a new master. A failover with the old master
 * still up (one asked for, or a partition) leaves our connection open: the old master keeps
 * accepting charges until the sentinels demote it, seconds later (11 s measured), and those charges
 * are then lost. Hearing +switch-master lets the client move at once.
 *
 * Not ioredis's own `failoverDetector`: it disconnects even while the client is reconnecting, which
 * makes the pending connect fail and ends the client for good (seen in
 * test/chaos/sentinel-failover.test.ts); and its sentinel connections have no error listener, so
 * ioredis prints their errors to stderr.
 */
export function watchSentinelFailovers(options: SentinelFailoverWatchOptions): { close(): void } {
  const clients = options.sentinels.map((address) => {
    const client = new Redis({
      ...options.sentinelOptions,
      ...address,
      retryStrategy: options.retryDelayMs,
      enableReadyCheck: false,
      // SUBSCRIBE is sent on every 'ready', after each reconnect too, rather than queued.
      enableOfflineQueue: false,
      autoResubscribe: false,
    });
    client.on("error", (error: Error) => options.onError?.(error));
    client.on("ready", () => {
      client.subscribe(SWITCH_MASTER).catch((error: unknown) => {
        options.onError?.(error instanceof Error ? error : new Error(String(error)));
      });
    });
    client.on("message", (channel: string, message: string) => {
      const [name, , , host, port] = message.split(" ");
      if (channel === SWITCH_MASTER && name === options.masterName && host !== undefined) {
        options.onSwitch({ host, port: Number(port) });
      }
    });
    return client;
  });
  return {
    close() {
      for (const client of clients) client.disconnect();
    },
  };
}
