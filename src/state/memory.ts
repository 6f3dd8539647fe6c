// The default state store: one process's memory (SPEC §3 `state.type: memory`). Also what the
// fallback keeps each instance on while Redis is away. Bounded: under a flood of distinct keys the
// least recently used are forgotten first, which only ever favours the client they counted against.
//
// Every operation is synchronous inside and returns an already-resolved promise: on the SMTP hot path
// it costs one microtask, never a turn of the event loop.
import { LRUCache } from 'lru-cache';
import type { StateStore, WindowAdd, WindowView } from './store.js';

export interface MemoryStoreOptions {
  /** Keys remembered per kind (values and counters, shares, windows). */
  readonly maxKeys?: number;
  /** Events one window remembers at most, whatever its limit. */
  readonly maxWindowEvents?: number;
  /** The store's clock, for expiries (tests move it). */
  readonly now?: () => number;
}

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

interface Window {
  /** Event times by member. */
  readonly events: Map<string, number>;
}

/** One holder's share of a total, alive for `ttlMs` more. */
export interface LiveShare {
  readonly key: string;
  readonly holder: string;
  readonly value: number;
  readonly ttlMs: number;
}

/**
 * A memory store and what it can tell about itself beyond the StateStore interface: the fallback
 * (fallback.ts) keeps its copy of every share here and hands them back to Redis when Redis returns.
 */
export interface MemoryState {
  readonly store: StateStore;
  /** Every share still alive, with its remaining lifetime; expired ones are dropped on the way. */
  liveShares(): LiveShare[];
}

export function createMemoryStore(opts: MemoryStoreOptions = {}): StateStore {
  return createMemoryState(opts).store;
}

export function createMemoryState(opts: MemoryStoreOptions = {}): MemoryState {
  const now = opts.now ?? Date.now;
  const max = opts.maxKeys ?? 100_000;
  const maxWindowEvents = opts.maxWindowEvents ?? 100_000;
  const values = new LRUCache<string, Expiring<string | number>>({ max });
  const shares = new LRUCache<string, Map<string, Expiring<number>>>({ max });
  const windows = new LRUCache<string, Window>({ max: Math.min(max, 10_000) });

  function live(key: string): Expiring<string | number> | undefined {
    const e = values.get(key);
    if (e && e.expiresAt <= now()) {
      values.delete(key);
      return undefined;
    }
    return e;
  }

  function sum(key: string): number {
    const m = shares.get(key);
    if (!m) return 0;
    const t = now();
    let total = 0;
    for (const [holder, s] of m) {
      if (s.expiresAt <= t) m.delete(holder);
      else total += s.value;
    }
    if (m.size === 0) shares.delete(key);
    return total;
  }

  function view(w: Window | undefined, nowMs: number, windowMs: number): WindowView {
    if (!w) return { count: 0, oldestMs: null };
    let count = 0;
    let oldestMs: number | null = null;
    for (const [member, at] of w.events) {
      if (nowMs - at >= windowMs) {
        w.events.delete(member);
        continue;
      }
      if (at > nowMs) continue;
      count++;
      if (oldestMs === null || at < oldestMs) oldestMs = at;
    }
    return { count, oldestMs };
  }

  const store: StateStore = {
    incr(key, ttlMs) {
      const e = live(key);
      if (e && typeof e.value === 'number') {
        e.value++;
        return Promise.resolve(e.value);
      }
      values.set(key, { value: 1, expiresAt: now() + ttlMs });
      return Promise.resolve(1);
    },
    count(key) {
      const v = live(key)?.value;
      return Promise.resolve(typeof v === 'number' ? v : Number(v ?? 0) || 0);
    },
    get(key) {
      const v = live(key)?.value;
      return Promise.resolve(v === undefined ? null : String(v));
    },
    set(key, value, ttlMs) {
      values.set(key, { value, expiresAt: now() + ttlMs });
      return Promise.resolve();
    },
    claim(key, value, ttlMs) {
      if (live(key)) return Promise.resolve(false);
      values.set(key, { value, expiresAt: now() + ttlMs });
      return Promise.resolve(true);
    },
    release(key, value) {
      const e = live(key);
      if (e && String(e.value) === value) values.delete(key);
      return Promise.resolve();
    },
    setShare(key, holder, value, ttlMs) {
      let m = shares.get(key);
      if (value === 0) m?.delete(holder);
      else {
        if (!m) shares.set(key, (m = new Map()));
        m.set(holder, { value, expiresAt: now() + ttlMs });
      }
      return Promise.resolve(sum(key));
    },
    sumShares(key) {
      return Promise.resolve(sum(key));
    },
    windowAdd(key, member, atMs, { nowMs, windowMs, limit }) {
      let w = windows.get(key);
      const before = view(w, nowMs, windowMs);
      const known = w?.events.has(member) ?? false;
      const fits = limit <= 0 || before.count < limit;
      // an event already out of the window (a rebuilt history) is no event at all
      const inWindow = nowMs - atMs < windowMs;
      if (known || !fits || !inWindow) {
        const r: WindowAdd = { added: false, ...before };
        return Promise.resolve(r);
      }
      if (!w) windows.set(key, (w = { events: new Map() }));
      w.events.set(member, atMs);
      if (w.events.size > maxWindowEvents) {
        // forget the oldest: the window is only ever a bound, and this bounds its memory
        let oldest: string | null = null;
        let oldestAt = Infinity;
        for (const [m, at] of w.events) if (at < oldestAt) [oldest, oldestAt] = [m, at];
        if (oldest !== null) w.events.delete(oldest);
      }
      const after = view(w, nowMs, windowMs);
      const r: WindowAdd = { added: true, ...after };
      return Promise.resolve(r);
    },
    windowView(key, nowMs, windowMs) {
      return Promise.resolve(view(windows.get(key), nowMs, windowMs));
    },
    close() {
      values.clear();
      shares.clear();
      windows.clear();
      return Promise.resolve();
    },
  };

  function liveShares(): LiveShare[] {
    const t = now();
    const out: LiveShare[] = [];
    const emptied: string[] = [];
    // entries() leaves the LRU order alone: a replay is not a use
    for (const [key, m] of shares.entries()) {
      for (const [holder, s] of m) {
        if (s.expiresAt <= t) m.delete(holder);
        else out.push({ key, holder, value: s.value, ttlMs: s.expiresAt - t });
      }
      if (m.size === 0) emptied.push(key);
    }
    for (const key of emptied) shares.delete(key);
    return out;
  }

  return { store, liveShares };
}
