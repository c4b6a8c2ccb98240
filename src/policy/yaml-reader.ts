import { type Document, isAlias, isMap, isScalar, isSeq, type Node } from "yaml";
import { keyPath } from "./key-path.ts";
import type { PolicyError } from "./policy-types.ts";

/** A value found in a policy file, with the key path that names it in error messages. */
export interface Field {
  readonly node: Node;
  readonly path: string;
}

const UINT32_MAX = 0xffff_ffff;

/**
 * Reads typed values out of one parsed YAML document and collects every problem it meets, so a
 * file reports all of its errors in one pass instead of stopping at the first.
 *
 * Values are read from the document's nodes rather than from `toJS()` output because the nodes
 * keep what the checks need: each scalar's source text (yaml.v2, which the reference service
 * uses, reads `value: 500` into a string as "500") and every key of a mapping even when repeated.
 */
export class YamlReader {
  readonly file: string;
  readonly errors: PolicyError[] = [];
  /** What loads as the reference service loads it but deserves a look (see `warn`). */
  readonly warnings: PolicyError[] = [];
  readonly #doc: Document;

  constructor(file: string, doc: Document) {
    this.file = file;
    this.#doc = doc;
  }

  fail(path: string, message: string): void {
    this.errors.push({ file: this.file, path, message });
  }

  /**
   * Records something envoyproxy/ratelimit accepts and Sluice therefore accepts too, read the way
   * the reference reads it: a config that loads there must load here, but the operator is told.
   */
  warn(path: string, message: string): void {
    this.warnings.push({ file: this.file, path, message });
  }

  /**
   * The fields of a mapping, keyed by name. Unknown keys are reported here, and a `null` value
   * counts as absent (yaml.v2 leaves such a field at its zero value). A repeated key is a warning
   * and the last one wins, as in yaml.v2's (non-strict) Unmarshal, which the reference uses. YAML
   * merge keys (`<<: *defaults`) are honoured, as yaml.v2 honours them; explicit keys win.
   */
  mapping(node: Node, path: string, allowed: ReadonlySet<string>): Map<string, Field> | undefined {
    return this.#mapping(node, path, allowed, new Set());
  }

  /** The items of a list, each with its indexed path. */
  list(field: Field): Field[] | undefined {
    const node = this.#resolve(field.node);
    if (!isSeq(node)) {
      this.fail(field.path, `expected a list, got ${describe(node)}`);
      return undefined;
    }
    const items: Field[] = [];
    node.items.forEach((item, index) => {
      const resolved = this.#resolve(item);
      if (resolved) items.push({ node: resolved, path: `${field.path}[${index}]` });
      else this.fail(`${field.path}[${index}]`, "expected a value, got nothing");
    });
    return items;
  }

  /** A scalar as text. Numbers and booleans keep their source spelling, as yaml.v2 reads them into strings. */
  string(field: Field): string | undefined {
    const node = this.#resolve(field.node);
    if (isScalar(node) && node.value !== null) {
      if (typeof node.value === "string") return node.value;
      if (node.source !== undefined) return node.source;
    }
    this.fail(field.path, `expected a string, got ${describe(node)}`);
    return undefined;
  }

  boolean(field: Field): boolean | undefined {
    const node = this.#resolve(field.node);
    if (isScalar(node) && typeof node.value === "boolean") return node.value;
    this.fail(field.path, `expected true or false, got ${describe(node)}`);
    return undefined;
  }

  /** A count such as `requests_per_unit`: an integer from 0 to 2^32 − 1, the range of the protocol's uint32. */
  uint32(field: Field): number | undefined {
    const node = this.#resolve(field.node);
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== "number") {
      this.fail(field.path, `expected an integer from 0 to ${UINT32_MAX}, got ${describe(node)}`);
    } else if (!Number.isInteger(value)) {
      this.fail(field.path, `must be a whole number, got ${describe(node)}`);
    } else if (value < 0 || value > UINT32_MAX) {
      this.fail(field.path, `must be between 0 and ${UINT32_MAX}, got ${describe(node)}`);
    } else {
      return value;
    }
    return undefined;
  }

  /** Checks that a free-form value (e.g. `metadata`) is a mapping, without reading inside it. */
  expectMapping(field: Field): boolean {
    const node = this.#resolve(field.node);
    if (isMap(node)) return true;
    this.fail(field.path, `expected a mapping, got ${describe(node)}`);
    return false;
  }

  #resolve(node: unknown): Node | undefined {
    if (isAlias(node)) return node.resolve(this.#doc);
    return isMap(node) || isSeq(node) || isScalar(node) ? node : undefined;
  }

  #mapping(
    node: Node,
    path: string,
    allowed: ReadonlySet<string>,
    reading: Set<Node>,
  ): Map<string, Field> | undefined {
    const map = this.#resolve(node);
    if (!isMap(map)) {
      this.fail(path, `expected a mapping, got ${describe(map)}`);
      return undefined;
    }
    if (reading.has(map)) {
      this.fail(path, "merge key refers back to the mapping it is in");
      return undefined;
    }
    reading.add(map);
    const fields = new Map<string, Field>();
    const explicit = new Set<string>();
    const merges: unknown[] = [];
    for (const pair of map.items) {
      const key = this.#resolve(pair.key);
      if (isScalar(key) && typeof key.value === "symbol") {
        merges.push(pair.value);
        continue;
      }
      if (!isScalar(key)) {
        this.fail(path, `mapping keys must be plain text, got ${describe(key)}`);
        continue;
      }
      const name = typeof key.value === "string" ? key.value : (key.source ?? String(key.value));
      const at = keyPath(path, name);
      const repeated = explicit.has(name);
      explicit.add(name);
      if (!allowed.has(name)) {
        if (!repeated) this.fail(at, `unknown key (allowed here: ${[...allowed].join(", ")})`);
        continue;
      }
      if (repeated) this.warn(at, "duplicate key; the last one is used, as envoyproxy/ratelimit does");
      const value = this.#resolve(pair.value);
      if (value && !(isScalar(value) && value.value === null)) fields.set(name, { node: value, path: at });
      else fields.delete(name);
    }
    for (const source of merges) this.#merge(fields, explicit, source, path, allowed, reading);
    reading.delete(map);
    return fields;
  }

  // Earlier merge sources win over later ones, and explicit keys over all of them (YAML merge spec).
  #merge(
    fields: Map<string, Field>,
    explicit: ReadonlySet<string>,
    source: unknown,
    path: string,
    allowed: ReadonlySet<string>,
    reading: Set<Node>,
  ): void {
    const resolved = this.#resolve(source);
    const sources = isSeq(resolved) ? resolved.items.map((item) => this.#resolve(item)) : [resolved];
    for (const item of sources) {
      if (!item) continue;
      const merged = this.#mapping(item, path, allowed, reading);
      if (!merged) continue;
      for (const [name, field] of merged)
        if (!explicit.has(name) && !fields.has(name)) fields.set(name, field);
    }
  }
}

/** Names a value for an error message; long text is cut so a hostile file cannot flood the output. */
function describe(node: Node | undefined): string {
  if (node === undefined) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (!isScalar(node) || node.value === null) return "null";
  const text = typeof node.value === "string" ? node.value : (node.source ?? String(node.value));
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return typeof node.value === "string" ? `'${shown}' (text)` : shown;
}
