/**
 * Key paths name a place in a policy file the way an operator reads it:
 * `descriptors[1].descriptors[0].rate_limit.unit`. The file's top level is `(root)`.
 */
export const ROOT_PATH = "(root)";

// Keys that are not plain identifiers are quoted so a path stays unambiguous: `metadata["a.b"]`.
const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

export function keyPath(parent: string, key: string): string {
  const atRoot = parent === ROOT_PATH;
  if (PLAIN_KEY.test(key)) return atRoot ? key : `${parent}.${key}`;
  return `${atRoot ? "" : parent}[${JSON.stringify(key)}]`;
}
