// Connection counts and the per-IP budget of unknown-recipient answers (directory harvest, quarantine flood).
import { LRUCache } from 'lru-cache';

const HOUR_MS = 3_600_000;

export interface ConnectionCounter {
  /** Sessions open now: in all, and from this client key. */
  counts(ip: string): { readonly total: number; readonly forIp: number };
  open(ip: string): void;
  release(ip: string): void;
}

export function createConnectionCounter(): ConnectionCounter {
  const perIp = new Map<string, number>();
  let total = 0;
  return {
    counts: (ip) => ({ total, forIp: perIp.get(ip) ?? 0 }),
    open(ip) {
      perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
      total++;
    },
    release(ip) {
      const n = perIp.get(ip);
      if (n === undefined) return;
      if (n <= 1) perIp.delete(ip);
      else perIp.set(ip, n - 1);
      total--;
    },
  };
}

export interface UnknownBudget {
  /** Unknown-recipient answers (550, quarantine) given to this IP in its current hour. */
  used(ip: string): number;
  record(ip: string): void;
}

/**
 * A fixed one-hour window per IP, started by its first unknown recipient. Bounded memory: under a flood of
 * distinct addresses the least recently seen IPs are forgotten first, which only ever favours them.
 */
export function createUnknownBudget(
  opts: { readonly maxIps?: number; readonly now?: () => number } = {},
): UnknownBudget {
  const now = opts.now ?? Date.now;
  const cache = new LRUCache<string, { count: number; resetAt: number }>({ max: opts.maxIps ?? 100_000 });
  const current = (ip: string): { count: number; resetAt: number } | undefined => {
    const e = cache.get(ip);
    if (e && e.resetAt <= now()) {
      cache.delete(ip);
      return undefined;
    }
    return e;
  };
  return {
    used: (ip) => current(ip)?.count ?? 0,
    record(ip) {
      const e = current(ip);
      if (e) e.count++;
      else cache.set(ip, { count: 1, resetAt: now() + HOUR_MS });
    },
  };
}
