import { constants, open, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ROOT_PATH } from "./key-path.ts";
import type { PolicySource } from "./policy-spec.ts";
import type { PolicyError } from "./policy-types.ts";

/** Largest policy file read, in bytes (1 MiB). Larger files are refused unread: no real policy comes close. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

const POLICY_FILE = /\.ya?ml$/;

/**
 * Reads the policy files named by `paths`: each a file, or a directory whose visible `*.yaml` /
 * `*.yml` entries are read in name order (not recursively). Hidden entries are skipped, which
 * also skips a Kubernetes ConfigMap mount's `..data` and `..<timestamp>` directories; its visible
 * entries are symlinks into them and are followed. A file named twice is read once.
 */
export async function readPolicySources(
  paths: readonly string[],
): Promise<{ sources: PolicySource[]; errors: PolicyError[] }> {
  const sources: PolicySource[] = [];
  const errors: PolicyError[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    let files: string[];
    try {
      files = (await stat(path)).isDirectory() ? await listPolicyFiles(path) : [path];
    } catch (error) {
      errors.push({ file: path, path: ROOT_PATH, message: `cannot read: ${reason(error)}` });
      continue;
    }
    for (const file of files) {
      const absolute = resolve(file);
      if (seen.has(absolute)) continue;
      seen.add(absolute);
      const read = await readPolicyFile(file);
      if (typeof read === "string") sources.push({ file, text: read });
      else errors.push(read);
    }
  }
  return { sources, errors };
}

async function listPolicyFiles(directory: string): Promise<string[]> {
  const names = (await readdir(directory))
    .filter((name) => !name.startsWith(".") && POLICY_FILE.test(name))
    .sort();
  const files: string[] = [];
  for (const name of names) {
    const file = join(directory, name);
    // A directory named like a policy file is skipped; a broken symlink is kept so reading it reports the error.
    const info = await stat(file).catch(() => undefined);
    if (!info || info.isFile()) files.push(file);
  }
  return files;
}

/** The file's text, or the error that kept it from being read. */
async function readPolicyFile(file: string): Promise<string | PolicyError> {
  const fail = (message: string): PolicyError => ({ file, path: ROOT_PATH, message });
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever; for a
    // regular file it changes nothing. The type check below then refuses the FIFO.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile()) return fail("not a regular file");
    if (info.size > MAX_POLICY_FILE_BYTES) {
      return fail(
        `file is ${info.size} bytes, over the ${MAX_POLICY_FILE_BYTES}-byte (1 MiB) limit; not parsed`,
      );
    }
    const bytes = await handle.readFile();
    if (bytes.length > MAX_POLICY_FILE_BYTES)
      return fail(`file grew past the ${MAX_POLICY_FILE_BYTES}-byte limit while read`);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return fail("not valid UTF-8");
    }
  } catch (error) {
    return fail(`cannot read: ${reason(error)}`);
  } finally {
    await handle?.close();
  }
}

function reason(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return error instanceof Error ? error.message : String(error);
}
