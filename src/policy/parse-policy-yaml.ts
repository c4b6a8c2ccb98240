import { type Document, isScalar, LineCounter, parseAllDocuments } from "yaml";
import { deepestIndent } from "./deepest-indent.ts";
import { flowNestingDepth } from "./flow-nesting-depth.ts";
import { ROOT_PATH } from "./key-path.ts";
import type { PolicyError } from "./policy-types.ts";

/** Flow collections (`[`, `{`) nested deeper than this are refused before parsing. */
export const MAX_FLOW_DEPTH = 128;

/** Lines indented past this many columns (block nesting) are refused before parsing. */
export const MAX_INDENT_COLUMNS = 512;

/**
 * Most alias expansions a file may cause (the yaml package's own measure: uses of an anchor times
 * the aliases inside it). Enough for a policy that reuses a few `&defaults`, far too few for a
 * "billion laughs" file whose aliases expand exponentially.
 */
export const MAX_ALIAS_COUNT = 100;

/**
 * The first YAML document of a policy file; `undefined` for a file with no content (only comments,
 * say). `warnings` says when later documents were ignored.
 */
export type PolicyYamlResult =
  | { readonly ok: true; readonly doc: Document | undefined; readonly warnings: readonly PolicyError[] }
  | { readonly ok: false; readonly errors: readonly PolicyError[] };

/**
 * Parses a policy file's text as YAML 1.1, the dialect of yaml.v2 that the reference service
 * reads, so `yes`/`on`, `1_000` and `<<` merge keys load the same way.
 *
 * `uniqueKeys` is off because the yaml package checks it by comparing each key with every earlier
 * one (quadratic in a hostile file); YamlReader reports repeated keys, with their paths, instead.
 */
export function parsePolicyYaml(file: string, text: string): PolicyYamlResult {
  const fail = (path: string, message: string): PolicyYamlResult => ({
    ok: false,
    errors: [{ file, path, message }],
  });
  if (flowNestingDepth(text, MAX_FLOW_DEPTH) > MAX_FLOW_DEPTH) {
    return fail(ROOT_PATH, `YAML collections nested deeper than ${MAX_FLOW_DEPTH} levels`);
  }
  const deepest = deepestIndent(text, MAX_INDENT_COLUMNS);
  if (deepest !== undefined) {
    return fail(
      `line ${deepest.line}`,
      `YAML nested deeper than ${MAX_INDENT_COLUMNS} columns of indentation`,
    );
  }
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, {
    version: "1.1",
    uniqueKeys: false,
    prettyErrors: false,
    lineCounter,
  });
  const docs = Array.isArray(parsed) ? parsed : [];
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}`;
  };

  // yaml.v2's Unmarshal, which the reference uses, decodes the first document and never reads
  // past it: later documents, even broken ones, are ignored there, so here too (with a warning).
  const doc = docs[0];
  const errors = (doc?.errors ?? []).map(
    (error): PolicyError => ({ file, path: at(error.pos[0]), message: `YAML: ${error.message}` }),
  );
  if (errors.length > 0) return { ok: false, errors };
  // A trailing `---` or `...` leaves an empty document behind; only a second one with content is worth a word.
  const second = docs.slice(1).find((later) => later.errors.length > 0 || !isEmptyDocument(later));
  const warnings: PolicyError[] = second
    ? [
        {
          file,
          path: at(second.range[0]),
          message:
            "a second YAML document; it and any after it are ignored, as envoyproxy/ratelimit ignores them (one file holds one domain)",
        },
      ]
    : [];

  if (!doc || isEmptyDocument(doc)) return { ok: true, doc: undefined, warnings };
  // Expanding once through toJS() applies the yaml package's alias-bomb guard and finds aliases
  // with no anchor, before YamlReader expands aliases itself.
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT, mapAsMap: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes("Excessive alias count")) {
      return fail(
        ROOT_PATH,
        `aliases expand too much (over ${MAX_ALIAS_COUNT}); refusing a possible alias bomb`,
      );
    }
    return fail(ROOT_PATH, `YAML: ${message}`);
  }
  return { ok: true, doc, warnings };
}

function isEmptyDocument(doc: Document): boolean {
  return doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
}
