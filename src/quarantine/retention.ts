// The running server's retention: deletes expired quarantine entries at start and then every interval
// (SPEC §5: at least hourly), logging a `purge` event per run. Runs never overlap.
import type { EventSink } from '../observability/events.js';
import { expiredBy, loggedIds } from './purge.js';
import { unreadableText, type QuarantineStore } from './store.js';

export const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

export interface RetentionOptions {
  /** A getter, so a reloaded configuration's store is the one purged. */
  readonly store: () => QuarantineStore;
  readonly events: EventSink;
  /** Between runs; at most an hour, the first run starts at once. */
  readonly intervalMs?: number;
  readonly now?: () => Date;
}

export interface Retention {
  /** Purges once now (also between scheduled runs); resolves with the number deleted, or null on failure. */
  runNow(): Promise<number | null>;
  /** No more runs; resolves when a run in progress has finished. */
  stop(): Promise<void>;
}

export function startRetention(opts: RetentionOptions): Retention {
  const intervalMs = Math.max(1, Math.min(opts.intervalMs ?? RETENTION_INTERVAL_MS, RETENTION_INTERVAL_MS));
  const now = opts.now ?? ((): Date => new Date());
  let running: Promise<number | null> | null = null;
  let stopped = false;

  async function purge(): Promise<number | null> {
    try {
      const { deleted, ids, unreadable } = await opts.store().purge(expiredBy(now()));
      if (unreadable.length > 0)
        // an entry the server cannot read is one it never deletes: the operator must hear of it
        opts.events.emit({
          event: 'error',
          where: 'purge',
          reason: 'quarantine-unreadable',
          error: unreadableText(unreadable),
        });
      opts.events.emit({
        event: 'purge',
        deleted,
        ...loggedIds(ids),
        ...(unreadable.length > 0 ? { unreadable: unreadable.map((u) => u.file) } : {}),
      });
      return deleted;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      opts.events.emit({ event: 'error', where: 'purge', error: e.code ? `${e.code}: ${e.message}` : String(err) });
      return null;
    }
  }

  function runNow(): Promise<number | null> {
    if (stopped) return Promise.resolve(null);
    running ??= purge().finally(() => {
      running = null;
    });
    return running;
  }

  void runNow();
  const timer = setInterval(() => void runNow(), intervalMs);
  // the timer alone never keeps the process alive: serve's listener does
  timer.unref();

  return {
    runNow,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
