import { afterAll, beforeAll } from "vitest";
import { createRlsClient, type RlsClient } from "./rls-client.ts";
import { type SluiceProcess, startSluice } from "./sluice-process.ts";

export interface SluiceSuite {
  readonly sluice: SluiceProcess;
  readonly client: RlsClient;
}

/**
 * Starts `sluice serve` with `args` and a client for it before the enclosing suite's tests, and
 * stops both after them. Read `sluice` and `client` inside tests, once the suite has started.
 */
export function useSluice(args: readonly string[]): SluiceSuite {
  let sluice: SluiceProcess | undefined;
  let client: RlsClient | undefined;
  beforeAll(async () => {
    sluice = await startSluice(args);
    client = createRlsClient(sluice.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await sluice?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the suite's Sluice is not running (read it inside a test)");
    return value;
  };
  return {
    get sluice() {
      return started(sluice);
    },
    get client() {
      return started(client);
    },
  };
}
