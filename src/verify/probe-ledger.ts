// Per client IP, what verify.upstream has going on: the asks under way (each may still end as an
// unknown-recipient answer, so they hold a place against maxUnknownRecipientsPerIp until theirs is
// counted) and, for observe mode, the probes of the current hour that found no mailbox. In this
// process's memory: the probe pool is per process too.
import { LRUCache } from 'lru-cache';
import type { ProbesForIp } from '../policy/probe-gate.js';

const HOUR_MS = 3_600_000;

/** One RCPT's place in its IP's ledger, from before its budget is read until its answer is counted. */
export interface LedgerPlace {
  /** The IP's other asks under way and observe probes spent, as the probe gate judges them. */
  readonly forIp: ProbesForIp;
  /** Once; later calls do nothing. */
  leave(): void;
}

export interface ProbeLedger {
  enter(ip: string): LedgerPlace;
  /** An observe-mode probe that did not find a mailbox (no such user, or no answer). */
  spendObserve(ip: string): void;
}

export function createProbeLedger(opts: { readonly maxIps?: number; readonly now?: () => number } = {}): ProbeLedger {
  const now = opts.now ?? Date.now;
  const underWay = new Map<string, number>();
  // bounded: under a flood of distinct addresses the least recently seen IPs are forgotten first,
  // which only ever favours them (a probe more)
  const observe = new LRUCache<string, { count: number; resetAt: number }>({ max: opts.maxIps ?? 100_000 });
  const observeSpent = (ip: string): number => {
    const e = observe.get(ip);
    return e && e.resetAt > now() ? e.count : 0;
  };
  return {
    enter(ip) {
      const forIp = { underWay: underWay.get(ip) ?? 0, observeSpent: observeSpent(ip) };
      underWay.set(ip, forIp.underWay + 1);
      let left = false;
      return {
        forIp,
        leave() {
          if (left) return;
          left = true;
          const n = (underWay.get(ip) ?? 1) - 1;
          if (n <= 0) underWay.delete(ip);
          else underWay.set(ip, n);
        },
      };
    },
    spendObserve(ip) {
      const e = observe.get(ip);
      if (e && e.resetAt > now()) e.count++;
      else observe.set(ip, { count: 1, resetAt: now() + HOUR_MS });
    },
  };
}
