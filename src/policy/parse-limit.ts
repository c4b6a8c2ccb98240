import { keyPath } from "./key-path.ts";
import type { LimitSpec } from "./policy-spec.ts";
import type { LimitWindow } from "./policy-types.ts";
import { parseUnit, UNITS } from "./units.ts";
import type { Field, YamlReader } from "./yaml-reader.ts";

const LIMIT_KEYS: ReadonlySet<string> = new Set([
  "unit",
  "requests_per_unit",
  "unlimited",
  "name",
  "replaces",
]);
const REPLACES_KEYS: ReadonlySet<string> = new Set(["name"]);

type OneLimit =
  | { readonly unlimited: true; readonly name: string | undefined; readonly replaces: readonly string[] }
  | { readonly unlimited: false; readonly window: LimitWindow };

/**
 * Reads what a descriptor node limits, from `rate_limit` (one window, as in the reference service)
 * or `rate_limits` (Sluice: several windows counted together, e.g. a minute and a day cap).
 * Undefined when the node sets neither or when they are invalid (errors go to the reader).
 */
export function parseLimit(reader: YamlReader, fields: ReadonlyMap<string, Field>): LimitSpec | undefined {
  const single = fields.get("rate_limit");
  const many = fields.get("rate_limits");
  if (single && many) {
    reader.fail(many.path, "cannot be combined with rate_limit on one descriptor; use one of them");
    return undefined;
  }
  if (single) {
    const limit = parseOneLimit(reader, single, { countDefaultsToZero: true });
    if (!limit) return undefined;
    return limit.unlimited
      ? { kind: "unlimited", name: limit.name, replaces: limit.replaces }
      : { kind: "windows", windows: [limit.window] };
  }
  return many ? parseLimitList(reader, many) : undefined;
}

function parseLimitList(reader: YamlReader, field: Field): LimitSpec | undefined {
  const items = reader.list(field);
  if (!items) return undefined;
  if (items.length === 0) {
    reader.fail(field.path, "must list at least one limit");
    return undefined;
  }
  const windows: LimitWindow[] = [];
  const unitAt = new Map<string, string>();
  let valid = true;
  for (const item of items) {
    const limit = parseOneLimit(reader, item, { countDefaultsToZero: false });
    if (!limit) {
      valid = false;
    } else if (limit.unlimited) {
      if (items.length === 1) return { kind: "unlimited", name: limit.name, replaces: limit.replaces };
      reader.fail(
        keyPath(item.path, "unlimited"),
        "an unlimited limit must be the only entry of rate_limits",
      );
      valid = false;
    } else {
      // The store keys a window's slots by the window's length, so two windows of one unit would share counters.
      const first = unitAt.get(limit.window.unit);
      if (first !== undefined) {
        reader.fail(keyPath(item.path, "unit"), `unit '${limit.window.unit}' is already used by ${first}`);
        valid = false;
      }
      unitAt.set(limit.window.unit, item.path);
      windows.push(limit.window);
    }
  }
  return valid ? { kind: "windows", windows } : undefined;
}

/**
 * `countDefaultsToZero`: a missing `requests_per_unit` reads as 0 with a warning, as the reference
 * reads its `rate_limit` (a uint32 field left at its zero value); Sluice's own `rate_limits` stays strict.
 */
function parseOneLimit(
  reader: YamlReader,
  field: Field,
  { countDefaultsToZero }: { countDefaultsToZero: boolean },
): OneLimit | undefined {
  const fields = reader.mapping(field.node, field.path, LIMIT_KEYS);
  if (!fields) return undefined;
  const unlimitedField = fields.get("unlimited");
  const unlimited = unlimitedField ? reader.boolean(unlimitedField) : false;
  const nameField = fields.get("name");
  // An empty name means no name, as in the reference service.
  const name = (nameField && reader.string(nameField)) || undefined;
  const replaces = parseReplaces(reader, fields.get("replaces"), name);
  if (unlimited === undefined) return undefined;

  const unitField = fields.get("unit");
  const countField = fields.get("requests_per_unit");
  if (unlimited) {
    if (unitField) reader.fail(unitField.path, "must not be set when unlimited is true");
    // The reference ignores a count next to `unlimited: true`; it is still type-checked here.
    if (countField) reader.uint32(countField);
    return unitField || !replaces ? undefined : { unlimited: true, name, replaces };
  }

  let unit: LimitWindow["unit"] | undefined;
  if (!unitField) {
    reader.fail(
      keyPath(field.path, "unit"),
      `required unless unlimited is true (one of ${UNITS.join(", ")})`,
    );
  } else {
    const text = reader.string(unitField);
    unit = text === undefined ? undefined : parseUnit(text);
    if (text !== undefined && unit === undefined) {
      reader.fail(unitField.path, `invalid unit '${text}' (expected one of ${UNITS.join(", ")})`);
    }
  }
  let requestsPerUnit: number | undefined;
  if (countField) requestsPerUnit = reader.uint32(countField);
  else if (!countDefaultsToZero) {
    reader.fail(keyPath(field.path, "requests_per_unit"), "required unless unlimited is true");
  } else {
    requestsPerUnit = 0;
    reader.warn(
      keyPath(field.path, "requests_per_unit"),
      "missing; read as 0 as envoyproxy/ratelimit does, so every request this rule matches is over the limit",
    );
  }

  if (unit === undefined || requestsPerUnit === undefined || !replaces) return undefined;
  return { unlimited: false, window: { unit, requestsPerUnit, name, replaces } };
}

function parseReplaces(
  reader: YamlReader,
  field: Field | undefined,
  ownName: string | undefined,
): string[] | undefined {
  if (!field) return [];
  const items = reader.list(field);
  if (!items) return undefined;
  const names: string[] = [];
  let valid = true;
  for (const item of items) {
    const fields = reader.mapping(item.node, item.path, REPLACES_KEYS);
    const nameField = fields?.get("name");
    const name = nameField && reader.string(nameField);
    if (fields && !nameField)
      reader.fail(keyPath(item.path, "name"), "required: the name of the limit to replace");
    else if (nameField && name === "") reader.fail(nameField.path, "must not be empty");
    else if (nameField && name !== undefined && name === ownName) {
      reader.fail(nameField.path, `a limit cannot replace itself ('${name}')`);
    } else if (name) {
      names.push(name);
      continue;
    }
    valid = false;
  }
  return valid ? names : undefined;
}
