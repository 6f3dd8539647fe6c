// Redis with a safety net (SPEC §4): while Redis answers within `state.timeout`, every operation goes
// there; when it cannot be reached or is slower, that operation and every one after it is answered by
// this instance's own memory store, and mail keeps flowing with per-instance limits. One `state` event
// (`ok: false`) per outage and the `catchall_guard_state_degraded` gauge say so; a PING every few
// seconds notices Redis is back, and the next operation goes there again, without a restart.
//
// Shares (the per-IP connection counts, one per instance) are absolute, so Redis is set right on
// its return instead of waiting for each client's next connect or close: before anything is answered
// from Redis again, every share this instance holds is written there again, and those that ended
// during the outage are removed (see recover()).
//
// Never throws: every operation has an answer, the shared one or the local one.
import type { EventSink } from '../observability/events.js';
import { createMemoryState, type MemoryState } from './memory.js';
import { StateUnavailable, type RemoteStateStore } from './redis.js';
import type { StateFailure, StateStore } from './store.js';

export interface FallbackOptions {
  readonly events: EventSink;
  /** Where operations go while Redis is away; a fresh memory store by default. */
  readonly local?: MemoryState;
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

/**
 * Shares changed while Redis was away, remembered by name so those that ended meanwhile can be
 * removed from Redis on its return. As many as the memory store keeps keys: past that, the oldest
 * are forgotten, and such a share in Redis simply expires with its ttl.
 */
const MAX_CHANGED = 100_000;

interface ShareName {
  readonly key: string;
  readonly holder: string;
}

export function createFallbackStore(remote: RemoteStateStore, opts: FallbackOptions): FallbackStore {
  const memory = opts.local ?? createMemoryState();
  const local = memory.store;
  const now = opts.now ?? Date.now;
  let down: { since: number } | null = null;
  let pinging = false;
  let closed = false;
  /** Shares whose Redis copy may be wrong (written only here, or whose write to Redis failed). */
  let changed = new Map<string, ShareName>();

  const nameOf = (key: string, holder: string): string => `${key.length}:${key}${holder}`;

  function noteChanged(key: string, holder: string): void {
    const id = nameOf(key, holder);
    changed.delete(id);
    changed.set(id, { key, holder });
    if (changed.size > MAX_CHANGED) changed.delete(changed.keys().next().value as string);
  }

  /** One share written to Redis; a failed write is remembered for the next return of Redis. */
  function publish(key: string, holder: string, value: number, ttlMs: number): Promise<number> {
    return remote.setShare(key, holder, value, ttlMs).catch((err: unknown) => {
      noteChanged(key, holder);
      throw err;
    });
  }

  /**
   * Writes to Redis this instance's live shares (`onlyChanged`: those changed since the last call
   * only) and removes the changed ones that have ended. Reads the local copy and sends in one go, so
   * each value sent is the newest, and Redis (one connection, commands in order) gets it ahead of
   * any write sent after.
   */
  function replay(onlyChanged: boolean): Array<Promise<number>> {
    const ended = changed;
    changed = new Map();
    const sent: Array<Promise<number>> = [];
    for (const s of memory.liveShares()) {
      const id = nameOf(s.key, s.holder);
      if (onlyChanged && !ended.has(id)) continue;
      ended.delete(id);
      sent.push(publish(s.key, s.holder, s.value, s.ttlMs));
    }
    for (const { key, holder } of ended.values()) sent.push(publish(key, holder, 0, 1));
    return sent;
  }

  /**
   * Redis answers a PING again. The store stays down (answering locally) while the shares go back,
   * so a share changed meanwhile is only written here and noted; those few go out last, in the same
   * step as the store is marked up, so no replayed value can land after a newer write. A replay Redis
   * does not take leaves the store down, the failed shares noted for the next try.
   */
  async function recover(): Promise<void> {
    if (!down || closed) return;
    // every write settled (each is bounded by state.timeout) before the next PING may start another
    const failed = (await Promise.allSettled(replay(false))).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (!down || closed) return;
    for (const p of replay(true)) p.catch(markDown);
    markUp();
  }

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
      .then(recover)
      .catch(markDown)
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
    setShare: (key, holder, value, ttlMs) => {
      // the local copy is kept up to date as well: while Redis is away it is this instance's whole
      // count, and on Redis's return what is replayed there
      const own = local.setShare(key, holder, value, ttlMs);
      if (down) {
        noteChanged(key, holder);
        return own;
      }
      // sent now, not a microtask later: Redis gets this instance's writes in the order they were made
      return publish(key, holder, value, ttlMs).catch((err: unknown) => own.then((o) => fail(err, o)));
    },
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
