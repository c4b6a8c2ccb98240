/**
 * The first line whose indentation reaches past `limit` columns, counting leading spaces and tabs
 * and the compact block indicators `- ` and `? ` (as in `- - - key: x`), found by one linear scan;
 * undefined when no line does.
 *
 * Block collections nest by indentation, so a file can nest them without brackets, and the YAML
 * parser recurses once per level: `- ` repeated 100,000 times on one line (200 KB) overflows its
 * stack. flowNestingDepth bounds `[`/`{` nesting; this bounds the block kind before parsing.
 * A policy 32 descriptor levels deep at four columns a level stays under 150 columns.
 */
export function deepestIndent(text: string, limit: number): { line: number; column: number } | undefined {
  let line = 1;
  for (let start = 0; start < text.length; line++) {
    let column = 0;
    for (;;) {
      const c = text.charCodeAt(start + column);
      if (c === 0x20 || c === 0x09) column++;
      else if ((c === 0x2d || c === 0x3f) && text.charCodeAt(start + column + 1) === 0x20) column += 2;
      else break;
      if (column > limit) return { line, column };
    }
    const end = text.indexOf("\n", start + column);
    if (end === -1) break;
    start = end + 1;
  }
  return undefined;
}
