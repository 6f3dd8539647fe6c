// Connection counts and the per-IP budget of unknown-recipient answers (directory harvest, quarantine
// flood), kept in the state store (src/state/) so that every worker and every MX host sharing it
// counts against one limit (SPEC §4).
import { stateKeys, type StateStore } from '../state/store.js';

const HOUR_MS = 3_600_000;

/** How long a share outlives its last write: no session lasts longer than sessionTimeout. */
const SHARE_MARGIN_MS = 60_000;

export interface ConnectionCounter {
  /**
   * Counts a new session from this client key and returns the sessions open before it: on this host
   * (`total`, SPEC `maxConnections`) and from this client key everywhere the store is shared (`forIp`).
   * Counted first and judged after, so two hosts opening at once both see each other.
   */
  open(ip: string, sessionTimeoutMs: number): Promise<{ readonly total: number; readonly forIp: number }>;
  /** The session ended (or was refused): always counted down here, whatever the store does. */
  release(ip: string, sessionTimeoutMs: number): Promise<void>;
}

export interface ConnectionCounterOptions {
  /** Who this process is in the shares: unique per process among all sharing the store. */
  readonly holder: string;
  /** This host's name: the `maxConnections` total is per host, shared by its workers only. */
  readonly host: string;
}

/**
 * This process's own counts are the truth it writes: each is set in the store as this process's share
 * (an absolute number, not +1/-1), with an expiry of sessionTimeout and a minute. So a close while Redis
 * is away is never lost (the next write sets the share right), and the shares of a crashed process
 * expire by themselves instead of blocking its clients for ever. The design is one hash per client key
 * with one field per process (src/state/redis.ts), summed on every write.
 */
export function createConnectionCounter(store: StateStore, opts: ConnectionCounterOptions): ConnectionCounter {
  const perIp = new Map<string, number>();
  let total = 0;
  const totalKey = stateKeys.connectionsTotal(opts.host);

  async function write(ip: string, sessionTimeoutMs: number): Promise<{ total: number; forIp: number }> {
    const ttl = sessionTimeoutMs + SHARE_MARGIN_MS;
    const [hostTotal, forIp] = await Promise.all([
      store.setShare(totalKey, opts.holder, total, ttl),
      store.setShare(stateKeys.connections(ip), opts.holder, perIp.get(ip) ?? 0, ttl),
    ]);
    return { total: hostTotal, forIp };
  }

  return {
    async open(ip, sessionTimeoutMs) {
      perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
      total++;
      const after = await write(ip, sessionTimeoutMs);
      return { total: Math.max(0, after.total - 1), forIp: Math.max(0, after.forIp - 1) };
    },
    async release(ip, sessionTimeoutMs) {
      const n = perIp.get(ip);
      if (n === undefined) return;
      if (n <= 1) perIp.delete(ip);
      else perIp.set(ip, n - 1);
      total--;
      await write(ip, sessionTimeoutMs);
    },
  };
}

export interface UnknownBudget {
  /** Unknown-recipient answers (550, quarantine) given to this IP in its current hour. */
  used(ip: string): Promise<number>;
  record(ip: string): Promise<void>;
}

/**
 * A fixed one-hour window per IP, started by its first unknown recipient: one counter in the store,
 * its expiry set with its first increment (one step). Bounded: the memory store forgets the least
 * recently seen IPs first under a flood of distinct addresses, which only ever favours them.
 */
export function createUnknownBudget(store: StateStore): UnknownBudget {
  return {
    used: (ip) => store.count(stateKeys.unknownBudget(ip)),
    async record(ip) {
      await store.incr(stateKeys.unknownBudget(ip), HOUR_MS);
    },
  };
}
