/** A compiled `*` pattern: `*` matches any run of characters (also none); nothing else is special. */
export type GlobMatcher = (value: string) => boolean;

/**
 * Compiles a descriptor value such as `/v1/*` or `team-*-eu` once, at load time, into literal
 * parts checked with startsWith / endsWith / indexOf. No regular expression is built, so a
 * request costs no compilation and a pattern cannot backtrack.
 *
 * The reference service only honours a trailing `*` (a prefix match); that case behaves the same
 * here, and a `*` elsewhere is a Sluice extension.
 */
export function compileGlob(pattern: string): GlobMatcher {
  const parts = pattern.split("*");
  const head = parts[0] ?? "";
  const tail = parts.length > 1 ? (parts[parts.length - 1] ?? "") : "";
  const middle = parts.slice(1, -1).filter((part) => part !== "");
  if (parts.length === 1) return (value) => value === pattern;
  const minLength = head.length + tail.length + middle.reduce((sum, part) => sum + part.length, 0);
  if (middle.length === 0) {
    return (value) => value.length >= minLength && value.startsWith(head) && value.endsWith(tail);
  }
  return (value) => {
    if (value.length < minLength || !value.startsWith(head) || !value.endsWith(tail)) return false;
    // Leftmost placement of each middle part is optimal for `*`-only patterns: it leaves the most room for the rest.
    let from = head.length;
    const end = value.length - tail.length;
    for (const part of middle) {
      const found = value.indexOf(part, from);
      if (found === -1 || found + part.length > end) return false;
      from = found + part.length;
    }
    return true;
  };
}
