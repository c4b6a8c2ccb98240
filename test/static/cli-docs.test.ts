import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { serveHelp } from "../../src/cli/serve-help.ts";

const CLI_DOC = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");

/** The fenced block that follows `heading` in docs/cli.md. */
function blockAfter(heading: string): string {
  const start = CLI_DOC.indexOf(heading);
  expect(start, `docs/cli.md has "${heading}"`).toBeGreaterThanOrEqual(0);
  const open = CLI_DOC.indexOf("```\n", start);
  const close = CLI_DOC.indexOf("\n```", open + 4);
  return CLI_DOC.slice(open + 4, close);
}

// The settings table users read is the help text, generated from the option table in settings.ts;
// docs/cli.md carries a copy, which must not drift from it.
describe("docs/cli.md", () => {
  it("shows exactly what `sluice serve --help` prints", () => {
    expect(blockAfter("### `sluice serve`")).toBe(serveHelp());
  });
});
