import { type Logger, pino } from "pino";
import { textLogStream } from "./text-log-stream.ts";

export type { Logger };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** json: one record per line for log collectors; text: the same records as readable lines. */
export const LOG_FORMATS = ["json", "text"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Logs on stdout: one line per start, reload, store state change and error — never one per
 * decision at the default level.
 */
export function createLogger({ level, format }: { level: LogLevel; format: LogFormat }): Logger {
  const options = { level, base: { service: "sluice" } };
  return format === "text" ? pino(options, textLogStream(process.stdout)) : pino(options);
}
