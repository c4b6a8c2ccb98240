import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { planWatchTargets, type WatchDirectory, watchPolicyPaths } from "./policy-watcher.ts";

/** A WatchDirectory whose events the test fires by hand. */
function fakeWatch() {
  const watched = new Map<string, (name: string | null) => void>();
  const closed: string[] = [];
  const watchDirectory: WatchDirectory = (directory, onEvent) => {
    watched.set(directory, onEvent);
    return { close: () => closed.push(directory) };
  };
  const fire = (directory: string, name: string | null) => {
    const onEvent = watched.get(directory);
    if (onEvent === undefined) throw new Error(`not watching ${directory}`);
    onEvent(name);
  };
  return { watchDirectory, watched, closed, fire };
}

const directories = new Set(["/etc/sluice/policies", "conf"]);
const isDirectory = async (path: string) => directories.has(path);

describe("planWatchTargets", () => {
  it("watches a directory itself for policy files and ConfigMap `..` entries", () => {
    const [target, ...rest] = planWatchTargets([{ path: "/etc/sluice/policies", isDirectory: true }]);
    expect(rest).toEqual([]);
    expect(target?.directory).toBe("/etc/sluice/policies");
    for (const name of ["api.yaml", "b.yml", "..data", "..data_tmp", "..2025_01_01_00_00_00.1", null]) {
      expect(target?.accepts(name)).toBe(true);
    }
    for (const name of ["notes.txt", ".api.yaml.swp", "api.yaml~", "4913"]) {
      expect(target?.accepts(name)).toBe(false);
    }
  });

  it("watches a file through its parent directory, filtered to its own name", () => {
    const [target] = planWatchTargets([{ path: join("conf", "api.yaml"), isDirectory: false }]);
    expect(target?.directory).toBe("conf");
    expect(target?.accepts("api.yaml")).toBe(true);
    expect(target?.accepts("..data")).toBe(true);
    expect(target?.accepts("other.yaml")).toBe(false);
    expect(target?.accepts(".api.yaml.swp")).toBe(false);
  });

  it("merges paths that share a directory into one watch", () => {
    const targets = planWatchTargets([
      { path: "conf/a.yaml", isDirectory: false },
      { path: "conf/b.yaml", isDirectory: false },
    ]);
    expect(targets.map((t) => t.directory)).toEqual(["conf"]);
    expect(targets[0]?.accepts("a.yaml")).toBe(true);
    expect(targets[0]?.accepts("b.yaml")).toBe(true);
    expect(targets[0]?.accepts("c.yaml")).toBe(false);
  });
});

describe("watchPolicyPaths", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("calls back once per burst, after the events have been quiet for the debounce time", async () => {
    const fs = fakeWatch();
    const onChange = vi.fn();
    const watcher = await watchPolicyPaths({
      paths: ["/etc/sluice/policies", "conf/api.yaml"],
      onChange,
      debounceMs: 150,
      watchDirectory: fs.watchDirectory,
      isDirectory,
    });
    expect([...fs.watched.keys()]).toEqual(["/etc/sluice/policies", "conf"]);

    // A ConfigMap update: new timestamped dir, new ..data_tmp link, rename onto ..data.
    fs.fire("/etc/sluice/policies", "..2025_06_01_12_00_00.42");
    vi.advanceTimersByTime(100);
    fs.fire("/etc/sluice/policies", "..data_tmp");
    vi.advanceTimersByTime(100);
    fs.fire("/etc/sluice/policies", "..data");
    vi.advanceTimersByTime(149);
    expect(onChange).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onChange).toHaveBeenCalledTimes(1);

    // An editor saving conf/api.yaml through a swap file: only the rename onto api.yaml counts.
    fs.fire("conf", ".api.yaml.swp");
    fs.fire("conf", "other.yaml");
    vi.advanceTimersByTime(1_000);
    expect(onChange).toHaveBeenCalledTimes(1);
    fs.fire("conf", "api.yaml");
    vi.advanceTimersByTime(150);
    expect(onChange).toHaveBeenCalledTimes(2);
    watcher.close();
  });

  it("stops calling back once closed, even for a burst already waiting, and closes every watch", async () => {
    const fs = fakeWatch();
    const onChange = vi.fn();
    const watcher = await watchPolicyPaths({
      paths: ["conf/a.yaml", "/etc/sluice/policies"],
      onChange,
      watchDirectory: fs.watchDirectory,
      isDirectory,
    });
    fs.fire("conf", "a.yaml");
    watcher.close();
    fs.fire("conf", "a.yaml");
    vi.advanceTimersByTime(10_000);
    expect(onChange).not.toHaveBeenCalled();
    expect(fs.closed.sort()).toEqual(["/etc/sluice/policies", "conf"]);
  });

  it("passes a watch error on with its directory", async () => {
    const errors: [unknown, string][] = [];
    const failing: WatchDirectory = (_directory, _onEvent, onError) => {
      onError(new Error("ENOSPC"));
      return { close() {} };
    };
    await watchPolicyPaths({
      paths: ["conf/a.yaml"],
      onChange: () => {},
      onError: (error, directory) => errors.push([error, directory]),
      watchDirectory: failing,
      isDirectory,
    });
    expect(errors).toEqual([[new Error("ENOSPC"), "conf"]]);
  });
});
