// The storage-health monitor: whether the running server can store mail, re-checked every few seconds
// and at once after a message failed on a storage error. While it fails, MAIL FROM is refused before the
// client sends anything (452 4.3.1 when full, 451 4.3.0 when not writable) and /readyz answers 503. A
// change of state is logged as a `storage` event: ok:false per new problem, with the path and the fix,
// then ok:true once every directory is fine again.
import type { EventSink } from '../observability/events.js';
import {
  checkStorage,
  failureReason,
  problemKey,
  type StorageDir,
  type StorageProblem,
  type StorageReason,
} from './preflight.js';

/** Often enough that a full disk is answered at MAIL FROM within seconds, rarely enough to cost nothing. */
export const STORAGE_CHECK_INTERVAL_MS = 10_000;

export interface StorageTarget {
  readonly dirs: readonly StorageDir[];
  readonly needBytes: number;
}

export interface StorageHealth {
  /** null while mail can be stored; else the reason a MAIL FROM is refused with. */
  failure(): StorageReason | null;
  problems(): readonly StorageProblem[];
  /** Checks now; a check already running is joined and one more runs after it, so a change is never missed. */
  check(opts?: { readonly writeTest?: boolean }): Promise<readonly StorageProblem[]>;
  /** The periodic check, and a check after every message that failed on storage. */
  start(): void;
  stop(): void;
}

export function createStorageHealth(deps: {
  /** Read on every check: a reload that moves a directory or changes maxMessageSize is followed. */
  readonly target: () => StorageTarget;
  readonly events: EventSink;
  readonly intervalMs?: number;
}): StorageHealth {
  const { events } = deps;
  let problems: readonly StorageProblem[] = [];
  let running: Promise<readonly StorageProblem[]> | null = null;
  let again: Promise<readonly StorageProblem[]> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let unsubscribe: (() => void) | null = null;

  function settle(next: readonly StorageProblem[]): void {
    const before = new Set(problems.map(problemKey));
    for (const p of next) {
      if (before.has(problemKey(p))) continue;
      events.emit({
        event: 'storage',
        ok: false,
        reason: p.reason,
        path: p.path,
        problem: p.problem,
        code: p.code,
        fix: p.fix,
        ...(p.freeBytes !== undefined ? { freeBytes: p.freeBytes } : {}),
        ...(p.neededBytes !== undefined ? { neededBytes: p.neededBytes } : {}),
      });
    }
    if (next.length === 0 && problems.length > 0) events.emit({ event: 'storage', ok: true });
    problems = next;
  }

  async function runOnce(writeTest: boolean): Promise<readonly StorageProblem[]> {
    const t = deps.target();
    const next = await checkStorage(t.dirs, t.needBytes, { writeTest });
    settle(next);
    return next;
  }

  function check(opts: { readonly writeTest?: boolean } = {}): Promise<readonly StorageProblem[]> {
    const writeTest = opts.writeTest ?? false;
    if (!running) {
      running = runOnce(writeTest).finally(() => (running = null));
      return running;
    }
    // something changed while a check was under way (a failure, a reload): look once more after it
    again ??= running
      .catch(() => [])
      .then(() => {
        again = null;
        return check(opts);
      });
    return again;
  }

  return {
    failure: () => failureReason(problems),
    problems: () => problems,
    check,
    start() {
      if (timer) return;
      timer = setInterval(() => void check(), deps.intervalMs ?? STORAGE_CHECK_INTERVAL_MS);
      timer.unref();
      // a write that failed on the disk (EACCES, ENOSPC, EROFS, EDQUOT, …) is the earliest sign
      unsubscribe = events.subscribe((e) => {
        if (e.event === 'message' && e.outcome === 'temporary' && e.reason?.startsWith('storage-')) void check();
      });
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      unsubscribe?.();
      unsubscribe = null;
    },
  };
}
