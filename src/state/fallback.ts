// Redis with a safety net (SPEC §4): while Redis answers within `state.timeout`, every operation goes
// there; when it cannot be reached or is slower, that operation and every one after it is answered by
// this instance's own memory store, and mail keeps flowing with per-instance limits. One `state` event
// (`ok: false`) per outage and the `catchall_guard_state_degraded` gauge say so; a PING every few
// seconds notices Redis is back, and the next operation goes there again, without a restart.
//
// Never throws: every operation has an answer, the shared one or the local one.
import type { EventSink } from '../observability/events.js';
import { createMemoryStore } from './memory.js';
import { StateUnavailable, type RemoteStateStore } from './redis.js';
import type { StateFailure, StateStore } from './store.js';

export interface FallbackOptions {
  readonly events: EventSink;
  /** Where operations go while Redis is away; a fresh memory store by default. */
  readonly local?: StateStore;
  /** How often Redis is asked whether it is there (default 5 s). */
  readonly pingMs?: number;
  readonly now?: () => number;
}

export interface FallbackStore extends StateStore {
  /** Waits (at most `state.timeout`) for the first connection; an unreachable Redis is logged, not fatal. */
  start(): Promise<void>;
  /** True while operations are answered locally. */
  degraded(): boolean;
}

const PING_MS = 5_000;

export function createFallbackStore(remote: RemoteStateStore, opts: FallbackOptions): FallbackStore {
  const local = opts.local ?? createMemoryStore();
  const now = opts.now ?? Date.now;
  let down: { since: number } | null = null;
  let pinging = false;
  let closed = false;

  function markDown(err: unknown): void {
    if (down || closed) return;
    down = { since: now() };
    const reason: StateFailure = err instanceof StateUnavailable ? err.reason : 'state-unreachable';
    const detail = err instanceof Error ? err.message : String(err);
    opts.events.emit({ event: 'state', ok: false, type: 'redis', reason, detail });
  }

  function markUp(): void {
    if (!down || closed) return;
    const downMs = now() - down.since;
    down = null;
    opts.events.emit({ event: 'state', ok: true, type: 'redis', downMs });
  }

  const timer = setInterval(() => {
    if (pinging || closed) return;
    pinging = true;
    remote
      .ping()
      .then(markUp, markDown)
      .finally(() => {
        pinging = false;
      });
  }, opts.pingMs ?? PING_MS);
  timer.unref();

  /** The shared answer, or the local one while Redis is away (and for the call that found it away). */
  function either<T>(shared: () => Promise<T>, own: () => Promise<T>): Promise<T> {
    if (down) return own();
    return shared().catch((err: unknown) => {
      markDown(err);
      return own();
    });
  }

  return {
    async start() {
      await remote.ready().then(undefined, markDown);
    },
    degraded: () => down !== null,
    incr: (key, ttlMs) =>
      either(
        () => remote.incr(key, ttlMs),
        () => local.incr(key, ttlMs),
      ),
    count: (key) =>
      either(
        () => remote.count(key),
        () => local.count(key),
      ),
    get: (key) =>
      either(
        () => remote.get(key),
        () => local.get(key),
      ),
    set: (key, value, ttlMs) =>
      either(
        () => remote.set(key, value, ttlMs),
        () => local.set(key, value, ttlMs),
      ),
    claim: (key, value, ttlMs) =>
      either(
        () => remote.claim(key, value, ttlMs),
        () => local.claim(key, value, ttlMs),
      ),
    release: (key, value) =>
      either(
        () => remote.release(key, value),
        () => local.release(key, value),
      ),
    setShare: (key, holder, value, ttlMs) =>
      // the local copy is kept up to date as well: while Redis is away it is this instance's whole count
      local
        .setShare(key, holder, value, ttlMs)
        .then((own) =>
          down ? own : remote.setShare(key, holder, value, ttlMs).catch((err: unknown) => fail(err, own)),
        ),
    sumShares: (key) =>
      either(
        () => remote.sumShares(key),
        () => local.sumShares(key),
      ),
    windowAdd: (key, member, atMs, o) =>
      either(
        () => remote.windowAdd(key, member, atMs, o),
        () => local.windowAdd(key, member, atMs, o),
      ),
    windowView: (key, nowMs, windowMs) =>
      either(
        () => remote.windowView(key, nowMs, windowMs),
        () => local.windowView(key, nowMs, windowMs),
      ),
    async close() {
      closed = true;
      clearInterval(timer);
      await Promise.allSettled([remote.close(), local.close()]);
    },
  };

  function fail<T>(err: unknown, answer: T): T {
    markDown(err);
    return answer;
  }
}
