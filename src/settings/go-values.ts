/**
 * Values as envoyproxy/ratelimit reads them (Go's strconv.ParseBool and time.ParseDuration, through
 * envconfig), so a drop-in's environment means the same to Sluice.
 */

const TRUE_TEXTS: ReadonlySet<string> = new Set(["true", "1", "t", "T", "TRUE", "True"]);
const FALSE_TEXTS: ReadonlySet<string> = new Set(["false", "0", "f", "F", "FALSE", "False"]);

/** Go's boolean spellings; undefined for anything else. */
export function parseGoBool(text: string): boolean | undefined {
  if (TRUE_TEXTS.has(text)) return true;
  if (FALSE_TEXTS.has(text)) return false;
  return undefined;
}

const DURATION_UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (`10s`, `1m30s`, `250ms`, `0`) in milliseconds; undefined when it is not one. */
export function parseGoDurationMs(text: string): number | undefined {
  if (text === "0") return 0;
  const part = /([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const match = part.exec(text);
    const unit = DURATION_UNIT_MS[match?.[2] ?? ""];
    if (match === null || unit === undefined) return undefined;
    ms += Number(match[1]) * unit;
    at = part.lastIndex;
  }
  return at === 0 ? undefined : ms;
}
