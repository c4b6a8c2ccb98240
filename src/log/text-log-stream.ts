import type { Writable } from "node:stream";

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

/** Fields every record carries that a person reading a terminal does not need on each line. */
const OMITTED = new Set(["level", "time", "msg", "pid", "hostname", "service"]);

/**
 * A pino destination that writes each JSON record as one readable line, `TIME LEVEL message
 * key=value ...`, with an error's stack on the lines after it. Formatting happens here rather than
 * in a pino transport, so no worker thread and no extra dependency (pino-pretty) is needed; logs
 * are a few lines per start, reload and state change, so parsing them again costs nothing.
 */
export function textLogStream(out: Pick<Writable, "write">): { write(record: string): void } {
  return {
    write(record) {
      out.write(`${formatRecord(JSON.parse(record) as Record<string, unknown>)}\n`);
    },
  };
}

export function formatRecord(record: Readonly<Record<string, unknown>>): string {
  const time = typeof record.time === "number" ? new Date(record.time).toISOString() : "";
  const level = LEVEL_NAMES[record.level as number] ?? String(record.level);
  const fields: string[] = [];
  let stack = "";
  for (const [key, value] of Object.entries(record)) {
    if (OMITTED.has(key)) continue;
    if (isError(value)) {
      fields.push(`${key}=${JSON.stringify(value.message)}`);
      if (typeof value.stack === "string") stack = `\n${value.stack}`;
      continue;
    }
    fields.push(
      `${key}=${typeof value === "string" && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`,
    );
  }
  return [time, level.padEnd(5), String(record.msg ?? ""), ...fields].join(" ") + stack;
}

function isError(value: unknown): value is { message: string; stack?: unknown } {
  return typeof value === "object" && value !== null && "message" in value && "stack" in value;
}
