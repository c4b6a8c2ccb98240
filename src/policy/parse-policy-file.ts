import { isMap } from "yaml";
import { FAILURE_POLICIES, type FailurePolicy, isFailurePolicy } from "./failure-policy.ts";
import { keyPath, ROOT_PATH } from "./key-path.ts";
import { parseDescriptors } from "./parse-descriptors.ts";
import { parsePolicyYaml } from "./parse-policy-yaml.ts";
import type { PolicySpec } from "./policy-spec.ts";
import type { PolicyError } from "./policy-types.ts";
import { YamlReader } from "./yaml-reader.ts";

const ROOT_KEYS: ReadonlySet<string> = new Set(["domain", "descriptors", "failure_policy"]);

export type PolicyFileResult =
  | { readonly ok: true; readonly spec: PolicySpec; readonly warnings: readonly PolicyError[] }
  | { readonly ok: false; readonly errors: readonly PolicyError[] };

/**
 * Parses and validates one policy file's text (pure: no file system). Reports every error the
 * file has, each at its key path, rather than the first one only; a file that loads may carry
 * warnings, for what the reference service accepts and Sluice therefore reads as it does.
 */
export function parsePolicyFile(file: string, text: string): PolicyFileResult {
  const yaml = parsePolicyYaml(file, text);
  if (!yaml.ok) return yaml;
  if (!yaml.doc)
    return { ok: false, errors: [{ file, path: "domain", message: "required (the file is empty)" }] };
  const contents = yaml.doc.contents;
  const reader = new YamlReader(file, yaml.doc);
  if (!isMap(contents)) {
    reader.fail(ROOT_PATH, "expected a mapping with domain and descriptors");
    return { ok: false, errors: reader.errors };
  }
  const fields = reader.mapping(contents, ROOT_PATH, ROOT_KEYS);
  const domainField = fields?.get("domain");
  const domain = domainField && reader.string(domainField);
  if (fields && !domainField) reader.fail(keyPath(ROOT_PATH, "domain"), "required");
  else if (domain === "") reader.fail("domain", "must not be empty");

  const descriptorsField = fields?.get("descriptors");
  const descriptors = descriptorsField ? parseDescriptors(reader, descriptorsField, 1) : [];
  const failureField = fields?.get("failure_policy");
  let failurePolicy: FailurePolicy | undefined;
  if (failureField) {
    const text = reader.string(failureField);
    if (text !== undefined && isFailurePolicy(text)) failurePolicy = text;
    else if (text !== undefined) {
      reader.fail(failureField.path, `expected one of ${FAILURE_POLICIES.join(", ")}, got "${text}"`);
    }
  }
  if (reader.errors.length > 0 || domain === undefined) return { ok: false, errors: reader.errors };
  return {
    ok: true,
    spec: { file, domain, descriptors, failurePolicy },
    warnings: [...yaml.warnings, ...reader.warnings],
  };
}
