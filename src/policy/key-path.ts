/**
 * Key paths name a place in a policy file the way an operator reads it:
 * `descriptors[1].descriptors[0].rate_limit.unit`. The file's top level is `(root)`.
 */
export const ROOT_PATH = "(root)";

// Keys that are not plain identifiers are quoted so a path stays unambiguous.
const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

export function keyPath(parent: string, key: string): string {
  const segment = PLAIN_KEY.test(key) ? key : JSON.stringify(key);
  if (parent === ROOT_PATH || parent === "") return PLAIN_KEY.test(key) ? key : `[${segment}]`;
  return PLAIN_KEY.test(key) ? `${parent}.${segment}` : `${parent}[${segment}]`;
}

export function indexPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}
