// Per client IP, what verify.upstream has going on:
// - the asks under way (each may still end as an unknown-recipient answer, so they hold a place against
//   maxUnknownRecipientsPerIp until theirs is counted): in this process's memory, as the probe pool that
//   runs them is per process. A place is taken synchronously, before any budget is read, so parallel
//   sessions of one process cannot probe past the limit between them; sessions on other workers or
//   hosts may each have a few asks under way beyond it, at most the size of their pools.
// - for observe mode, the probes of the current hour that found no mailbox: in the state store (one
//   counter per IP with a one-hour expiry), so the bound holds once for the host's workers and, with
//   Redis, for every host (SPEC §4).
import { createMemoryStore } from '../state/memory.js';
import { stateKeys, type StateStore } from '../state/store.js';

const HOUR_MS = 3_600_000;

/** One RCPT's place in its IP's ledger, from before its budget is read until its answer is counted. */
export interface LedgerPlace {
  /** The IP's other asks under way in this process when the place was taken. */
  readonly underWay: number;
  /** Once; later calls do nothing. */
  leave(): void;
}

export interface ProbeLedger {
  enter(ip: string): LedgerPlace;
  /** Observe-mode probes this hour for this IP that found no mailbox, everywhere the store is shared. */
  observeSpent(ip: string): Promise<number>;
  /** An observe-mode probe that did not find a mailbox (no such user, or no answer). Never rejects. */
  spendObserve(ip: string): Promise<void>;
}

export function createProbeLedger(opts: { readonly state?: StateStore | undefined } = {}): ProbeLedger {
  // the memory store is bounded: under a flood of distinct addresses the least recently seen IPs are
  // forgotten first, which only ever favours them (a probe more)
  const store = opts.state ?? createMemoryStore();
  const underWay = new Map<string, number>();
  return {
    enter(ip) {
      const before = underWay.get(ip) ?? 0;
      underWay.set(ip, before + 1);
      let left = false;
      return {
        underWay: before,
        leave() {
          if (left) return;
          left = true;
          const n = (underWay.get(ip) ?? 1) - 1;
          if (n <= 0) underWay.delete(ip);
          else underWay.set(ip, n);
        },
      };
    },
    // the store's implementations answer locally rather than fail; a failure here is the last resort,
    // and counts nothing (a probe more, as when the IP was forgotten)
    observeSpent: (ip) => store.count(stateKeys.observeProbes(ip)).catch(() => 0),
    spendObserve: (ip) =>
      store.incr(stateKeys.observeProbes(ip), HOUR_MS).then(
        () => undefined,
        () => undefined,
      ),
  };
}
