// How long the primary waits before it replaces a worker that exited. A worker that ran a while and
// died (a bug met once, an OOM kill, kill -9) is replaced at once: the port is served by one process
// fewer until then. A worker that dies soon after its start again and again (a configuration file
// edited into something it cannot run, a disk it cannot open) would otherwise be forked in a tight
// loop, burning a core and filling the log; it is retried at doubling intervals instead. Pure.

/** A worker that lived at least this long is not part of a crash loop. */
export const HEALTHY_RUN_MS = 30_000;
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 60_000;

/**
 * `quickExits`: how many times in a row this worker slot's process exited within HEALTHY_RUN_MS of
 * its start, the exit being judged included (0 when it ran longer).
 */
export function restartDelayMs(quickExits: number): number {
  if (quickExits <= 1) return 0;
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (quickExits - 2));
}

/** The slot's count after an exit: one more when the process lived briefly, else none. */
export function nextQuickExits(previous: number, livedMs: number): number {
  return livedMs < HEALTHY_RUN_MS ? previous + 1 : 0;
}
