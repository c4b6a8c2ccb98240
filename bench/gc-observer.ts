// Preload for a server under a benchmark: every 5 s, prints to stderr the event loop's delay
// (p99 and max) and the garbage collector's pauses by kind (count, total and longest), so a
// latency tail can be laid next to the pauses that cause it.
//
//   node --import ./bench/gc-observer.ts bench/baseline-server.ts --grpc-addr 127.0.0.1:0
//   node --import ./bench/gc-observer.ts bin/sluice.js serve ...
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "scavenge",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "mark-compact",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak-callbacks",
};

interface Pauses {
  count: number;
  totalMs: number;
  maxMs: number;
}

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const pauses = new Map<string, Pauses>();

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const { detail } = entry as { detail?: { kind?: number } };
    const kind = KINDS[detail?.kind ?? -1] ?? "other";
    const p = pauses.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 };
    p.count++;
    p.totalMs += entry.duration;
    p.maxMs = Math.max(p.maxMs, entry.duration);
    pauses.set(kind, p);
  }
}).observe({ entryTypes: ["gc"] });

const ms = (ns: number) => (ns / 1e6).toFixed(1);
setInterval(() => {
  const gc = [...pauses]
    .map(([kind, p]) => `${kind} ${p.count}× ${p.totalMs.toFixed(0)} ms (max ${p.maxMs.toFixed(1)})`)
    .join(", ");
  process.stderr.write(
    `event loop delay p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms | gc: ${gc || "none"}\n`,
  );
  delay.reset();
  pauses.clear();
}, 5_000).unref();
