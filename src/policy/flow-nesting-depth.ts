/**
 * Deepest nesting of YAML flow collections (`[` and `{`) in a text, found by one linear scan.
 *
 * It exists so a file like `[[[[…]]]]` can be refused before it reaches the YAML parser, which
 * spends seconds on half a million brackets before giving up. Quoted runs and comments are
 * skipped. The scan is deliberately rough: a bracket inside a plain scalar (`value: a[b`) counts,
 * which no sensible policy does often enough to reach the cap, and an apostrophe in a plain scalar
 * (`don't`) can hide brackets, which the parser's own, slower depth guard then catches.
 * Stops scanning as soon as `limit` is exceeded.
 */
export function flowNestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let quote = "";
  let lineStart = true;
  let previous = "\n";
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quote !== "") {
      if (char === "\\" && quote === '"') i++;
      else if (char === quote) quote = "";
    } else if (char === "#" && (lineStart || previous === " " || previous === "\t")) {
      // A comment runs to the end of the line.
      const end = text.indexOf("\n", i);
      i = end === -1 ? text.length : end - 1;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === "[" || char === "{") {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if ((char === "]" || char === "}") && depth > 0) {
      depth--;
    }
    lineStart = char === "\n" || (lineStart && (char === " " || char === "\t"));
    previous = char;
  }
  return deepest;
}
