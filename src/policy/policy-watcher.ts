import { watch as fsWatch } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";

/** Quiet time after the last file event before reloading, in ms: editors and ConfigMap swaps write in bursts. */
export const DEFAULT_DEBOUNCE_MS = 150;

/** One directory to watch and which entry names in it matter. */
export interface WatchTarget {
  readonly directory: string;
  accepts(name: string | null): boolean;
}

/** Watches one directory, calling back with the changed entry's name when the platform knows it. */
export type WatchDirectory = (
  directory: string,
  onEvent: (name: string | null) => void,
  onError: (error: unknown) => void,
) => { close(): void };

export interface PolicyWatcherOptions {
  readonly paths: readonly string[];
  /** Called once per burst of relevant events, `debounceMs` after the last one. */
  readonly onChange: () => void;
  readonly onError?: (error: unknown, directory: string) => void;
  readonly debounceMs?: number;
  /** The fs.watch edge; tests pass a fake that emits events by hand. */
  readonly watchDirectory?: WatchDirectory;
  /** Whether a policy path is a directory; tests pass a fake. */
  readonly isDirectory?: (path: string) => Promise<boolean>;
}

export interface PolicyWatcher {
  close(): void;
}

const POLICY_FILE = /\.ya?ml$/;

/**
 * Which directories to watch for the `--policy` paths. A directory is watched itself, for its
 * policy files and for `..`-prefixed entries: a Kubernetes ConfigMap volume swaps its content by
 * renaming the `..data` symlink, which changes nothing the visible file names point at until it
 * happens. A file is watched through its parent, filtered to its name, because editors and `mv`
 * replace the file (a watch on the file itself would follow the old, unlinked inode).
 */
export function planWatchTargets(paths: readonly { path: string; isDirectory: boolean }[]): WatchTarget[] {
  const byDirectory = new Map<string, ((name: string) => boolean)[]>();
  for (const { path, isDirectory } of paths) {
    const directory = isDirectory ? path : dirname(path);
    const file = basename(path);
    const accepts = isDirectory ? (name: string) => POLICY_FILE.test(name) : (name: string) => name === file;
    byDirectory.set(directory, [...(byDirectory.get(directory) ?? []), accepts]);
  }
  return [...byDirectory].map(([directory, filters]) => ({
    directory,
    accepts: (name) =>
      name === null || name.startsWith("..") || filters.some((accepts) => accepts(basename(name))),
  }));
}

/**
 * Calls `onChange` after file events on the policy paths settle. The caller reloads and
 * validates; the watcher only says "look again".
 */
export async function watchPolicyPaths(options: PolicyWatcherOptions): Promise<PolicyWatcher> {
  const isDirectory = options.isDirectory ?? defaultIsDirectory;
  const watchDirectory = options.watchDirectory ?? defaultWatchDirectory;
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const resolved = await Promise.all(
    options.paths.map(async (path) => ({ path, isDirectory: await isDirectory(path) })),
  );

  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const changed = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) options.onChange();
    }, debounceMs);
  };

  const watchers = planWatchTargets(resolved).map((target) =>
    watchDirectory(
      target.directory,
      (name) => {
        if (target.accepts(name)) changed();
      },
      (error) => options.onError?.(error, target.directory),
    ),
  );
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}

async function defaultIsDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

const defaultWatchDirectory: WatchDirectory = (directory, onEvent, onError) => {
  try {
    // Not persistent: the servers keep the process alive; the watch must not delay an exit.
    const watcher = fsWatch(directory, { persistent: false }, (_event, name) => onEvent(name));
    watcher.on("error", onError);
    return watcher;
  } catch (error: unknown) {
    // Out of inotify watches, or the directory vanished: reloads still work on SIGHUP.
    onError(error);
    return { close() {} };
  }
};
