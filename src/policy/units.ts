/** Window units a policy may name, with their length in seconds (month = 30 days, year = 365 days, as Envoy's reference service counts them). */
export const UNIT_SECONDS = {
  second: 1,
  minute: 60,
  hour: 3_600,
  day: 86_400,
  week: 604_800,
  month: 2_592_000,
  year: 31_536_000,
} as const;

export type Unit = keyof typeof UNIT_SECONDS;

export const UNITS = Object.keys(UNIT_SECONDS) as readonly Unit[];

/** Parses a unit name case-insensitively ("MINUTE" and "minute" both load, as in envoyproxy/ratelimit). */
export function parseUnit(text: string): Unit | undefined {
  const lower = text.toLowerCase();
  return Object.hasOwn(UNIT_SECONDS, lower) ? (lower as Unit) : undefined;
}

export function unitMillis(unit: Unit): number {
  return UNIT_SECONDS[unit] * 1000;
}
