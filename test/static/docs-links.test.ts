import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Every relative link in the README, CONTRIBUTING.md and docs/*.md must name a file that exists and, where it
// names a heading (`page.md#heading`), a heading of that page, so moving or renaming a page or a section
// cannot leave a dead link behind.
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const docsDir = join(root, "docs");
const pages = [
  join(root, "README.md"),
  join(root, "CONTRIBUTING.md"),
  ...readdirSync(docsDir)
    .filter((name) => name.endsWith(".md"))
    .map((name) => join(docsDir, name)),
];

/** The text outside fenced code blocks and inline code, where a `[x](y)` is a link. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "")
    .replace(/^( {4}|\t).*$/gm, "")
    .replace(/`[^`\n]*`/g, "");
}

/** Link targets of `[text](target)`, relative ones only. */
export function relativeLinks(markdown: string): string[] {
  const targets = [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] ?? "");
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "")
    .matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const text = (match[1] ?? "").replace(/`/g, "").replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

describe("documentation links", () => {
  it("finds the pages", () => {
    expect(pages.map((page) => relative(root, page))).toEqual(
      expect.arrayContaining(["README.md", "CONTRIBUTING.md", "docs/policy.md", "docs/envoy.md"]),
    );
  });

  it.each(pages.map((page) => [relative(root, page), page]))(
    "%s: every relative link resolves",
    (_name, page) => {
      const markdown = readFileSync(page, "utf8");
      const broken: string[] = [];
      for (const link of relativeLinks(markdown)) {
        const [path = "", anchor] = link.split("#", 2);
        const target = path === "" ? page : join(dirname(page), decodeURIComponent(path));
        if (!existsSync(target)) {
          broken.push(`${link}: no such file`);
          continue;
        }
        if (anchor === undefined || anchor === "") continue;
        if (!target.endsWith(".md") || statSync(target).isDirectory()) {
          broken.push(`${link}: an anchor into a file that is not a markdown page`);
          continue;
        }
        if (!headingAnchors(readFileSync(target, "utf8")).has(anchor)) {
          broken.push(`${link}: no heading #${anchor} in ${relative(root, target)}`);
        }
      }
      expect(broken).toEqual([]);
    },
  );

  it("derives anchors as GitHub does", () => {
    const anchors = headingAnchors(
      "# Envoy's timeout\n## From zero to a 429 through Envoy in five minutes\n## Limits\n## Limits\n```\n# not a heading\n```\n",
    );
    expect([...anchors]).toEqual([
      "envoys-timeout",
      "from-zero-to-a-429-through-envoy-in-five-minutes",
      "limits",
      "limits-1",
    ]);
  });

  it("skips links in code and absolute URLs", () => {
    expect(
      relativeLinks("[a](docs/a.md) `[b](b.md)` [c](https://example.com) [d](#d)\n```\n[e](e.md)\n```\n"),
    ).toEqual(["docs/a.md", "#d"]);
  });
});
