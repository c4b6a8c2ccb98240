/**
 * Which CPUs the server, Redis and ghz get in `--server-cpus` mode: the server CPUs 0..N-1, Redis
 * and ghz the top of the machine, the same for every N of one run (sized for the largest N), so a
 * throughput curve over N changes only the server's share. Redis gets a core of its own and ghz
 * the rest; with a single core left they share it (said in the note).
 */
export interface CpuPlacement {
  /** `taskset -c` lists. */
  readonly server: string;
  readonly redis: string;
  readonly ghz: string;
  /** Go scheduler threads for ghz: its CPU count. */
  readonly ghzCpus: number;
  readonly note: string;
}

export function cpuPlacement(serverCpus: number, largestServerCpus: number, cores: number): CpuPlacement {
  if (!Number.isInteger(serverCpus) || serverCpus < 1)
    throw new Error(`--server-cpus ${serverCpus}: not a count`);
  const left = cores - largestServerCpus;
  if (left < 1) {
    throw new Error(
      `--server-cpus ${largestServerCpus} needs at least ${largestServerCpus + 1} cores (this machine has ${cores}): ghz and Redis need one`,
    );
  }
  const server = range(0, serverCpus);
  const first = largestServerCpus;
  if (left === 1) {
    const shared = String(first);
    return {
      server,
      redis: shared,
      ghz: shared,
      ghzCpus: 1,
      note: `server on CPU ${server}, Redis and ghz sharing CPU ${shared} (no core left to part them)`,
    };
  }
  const redis = String(first);
  const ghz = range(first + 1, cores);
  return {
    server,
    redis,
    ghz,
    ghzCpus: cores - first - 1,
    note: `server on CPU ${server}, Redis on CPU ${redis}, ghz on CPU ${ghz}`,
  };
}

/** `a-b` (or `a`) for CPUs a..end-1. */
function range(start: number, end: number): string {
  return end - start === 1 ? String(start) : `${start}-${end - 1}`;
}
