// Connection counts and the per-IP budget of "user unknown" answers (directory-harvest protection).
import { LRUCache } from 'lru-cache';

const HOUR_MS = 3_600_000;

export interface ConnectionCounter {
  /** Counts the connection and says whether it may proceed. */
  tryOpen(ip: string, limits: { readonly total: number; readonly perIp: number }): 'ok' | 'total' | 'per-ip';
  release(ip: string): void;
  readonly total: number;
}

export function createConnectionCounter(): ConnectionCounter {
  const perIp = new Map<string, number>();
  let total = 0;
  return {
    tryOpen(ip, limits) {
      const n = perIp.get(ip) ?? 0;
      // 0 means "no limit" for both settings
      if (limits.total > 0 && total >= limits.total) return 'total';
      if (limits.perIp > 0 && n >= limits.perIp) return 'per-ip';
      perIp.set(ip, n + 1);
      total++;
      return 'ok';
    },
    release(ip) {
      const n = perIp.get(ip);
      if (n === undefined) return;
      if (n <= 1) perIp.delete(ip);
      else perIp.set(ip, n - 1);
      total--;
    },
    get total() {
      return total;
    },
  };
}

export interface RejectBudget {
  /** 550 5.1.1 answers given to this IP in its current hour. */
  used(ip: string): number;
  record(ip: string): void;
}

/**
 * A fixed one-hour window per IP, started by its first rejection. Bounded memory: under a flood of
 * distinct addresses the least recently seen IPs are forgotten first, which only ever favours them.
 */
export function createRejectBudget(opts: { readonly maxIps?: number; readonly now?: () => number } = {}): RejectBudget {
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
