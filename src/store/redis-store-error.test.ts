import { describe, expect, it } from "vitest";
import { StoreError } from "./counter-store.ts";
import { toStoreError } from "./redis-store-error.ts";

function replyError(message: string): Error {
  const error = new Error(message);
  error.name = "ReplyError";
  return error;
}

describe("toStoreError", () => {
  it.each([
    new Error("Connection is closed."),
    new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    new Error("Command timed out"),
    new Error("Cluster isn't ready and enableOfflineQueue options is false"),
    Object.assign(new Error("Reached the max retries per request limit (which is 0)."), {
      name: "MaxRetriesPerRequestError",
    }),
    replyError("LOADING Redis is loading the dataset in memory"),
    replyError("CLUSTERDOWN The cluster is down"),
    replyError("TRYAGAIN Multiple keys request during rehashing of slot"),
    replyError("OOM command not allowed when used memory > 'maxmemory'."),
    // A Cluster slot being migrated: the same charge is served once the migration ends.
    replyError(
      "ERR Script attempted to access a non local key in a cluster node script: f00, on @user_script:52.",
    ),
  ])("marks %s as transient", (error) => {
    const mapped = toStoreError(error);
    expect(mapped).toBeInstanceOf(StoreError);
    expect(mapped.transient).toBe(true);
    expect(mapped.cause).toBe(error);
  });

  it.each([
    replyError("ERR Error running script (call to f_abc): @user_script:1: bad argument"),
    replyError("WRONGTYPE Operation against a key holding the wrong kind of value"),
  ])("marks %s as permanent", (error) => {
    expect(toStoreError(error).transient).toBe(false);
  });

  it("marks a Cluster node's 'non local key' refusal as transient from a reachable store", () => {
    const mapped = toStoreError(
      replyError(
        "ERR Script attempted to access a non local key in a cluster node script: f00, on @user_script:52.",
      ),
    );
    expect(mapped).toMatchObject({ transient: true, reachable: true });
    expect(toStoreError(new Error("Connection is closed.")).reachable).toBe(false);
    expect(toStoreError(replyError("WRONGTYPE Operation against a key")).reachable).toBe(true);
  });

  it("passes a StoreError through and wraps non-errors", () => {
    const original = new StoreError("x", { transient: false });
    expect(toStoreError(original)).toBe(original);
    expect(toStoreError("boom")).toMatchObject({ transient: true, message: "redis: boom" });
  });
});
