import { type Logger, pino } from "pino";

export type { Logger };

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * Structured JSON logs on stdout: one line per start, reload, store state change and error —
 * never one per decision at the default level.
 */
export function createLogger(level: string | undefined): Logger {
  const chosen = LEVELS.find((l) => l === level) ?? "info";
  return pino({ level: chosen, base: { service: "sluice" } });
}
