// What SMTP processes and MX hosts share (SPEC §3 `state`, §4): per-IP connection counts, the per-IP
// harvest budget, the notice throttle and the verify.upstream cache. One small async interface with
// three implementations: memory.ts (one process), redis.ts (several hosts, through fallback.ts so mail
// keeps flowing when Redis is away), and an IPC-backed one that the cluster workers use to reach the
// primary's store (src/cluster/*, provided by the workers side against this same interface).
//
// Every argument and result is plain data (strings and numbers), so an operation can cross IPC as
// one message. Keys are given without the `state.prefix`; the implementation adds it. Times the
// caller passes (atMs, nowMs) are the caller's clock; expiries (ttlMs) are the store's.

/** A sliding window of events (the notices of the last hour): how many, and the oldest of them. */
export interface WindowView {
  /** Events in the window ending now. */
  readonly count: number;
  /** When the oldest of them happened; null when the window is empty. */
  readonly oldestMs: number | null;
}

export interface WindowAdd extends WindowView {
  /** False when the window already held `limit` events: nothing was added. */
  readonly added: boolean;
}

export interface StateStore {
  /**
   * Adds one to a counter and returns the new value; the counter expires `ttlMs` after it was
   * created (a fixed window: later increments do not extend it). One step, never two.
   */
  incr(key: string, ttlMs: number): Promise<number>;
  /** A counter's value, 0 when absent or expired. */
  count(key: string): Promise<number>;

  /** A value (e.g. a cached answer); null when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Sets a value that expires after `ttlMs`, replacing any. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /**
   * Sets `key` to `value` only when absent (SET NX PX): true when this call did, false when it is
   * held. The value names the holder (or records something, e.g. when a notice went out).
   */
  claim(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes `key` when it still holds `value` (a claim given back by its holder only). */
  release(key: string, value: string): Promise<void>;

  /**
   * A total made of one share per holder (one per instance or worker): sets `holder`'s share to
   * `value` (0 removes it) with its own expiry, and returns the sum of the shares still alive. The
   * share is absolute, not a delta, so a holder that lost the store for a while sets it right with
   * its next write, and a crashed holder's share expires on its own.
   */
  setShare(key: string, holder: string, value: number, ttlMs: number): Promise<number>;
  /** The sum of the live shares of `key`; 0 when none. */
  sumShares(key: string): Promise<number>;

  /**
   * Adds event `member` at `atMs` to a sliding window of `windowMs`, unless the window ending at
   * `nowMs` already holds `limit` events (limit 0: no limit). The same member twice is one event
   * (a rebuilt history is not counted twice). Events older than the window are forgotten.
   */
  windowAdd(
    key: string,
    member: string,
    atMs: number,
    opts: { readonly nowMs: number; readonly windowMs: number; readonly limit: number },
  ): Promise<WindowAdd>;
  /** The window ending at `nowMs`. */
  windowView(key: string, nowMs: number, windowMs: number): Promise<WindowView>;

  /** Releases connections and timers; the store is not used afterwards. */
  close(): Promise<void>;
}

/** Why a shared store is not being used right now (the `state` event's reason). */
export type StateFailure = 'state-unreachable' | 'state-timeout';

/** Key names, in one place so every implementation and host agrees on them. */
export const stateKeys = {
  /** Sessions open from one client key, as shares per instance. */
  connections: (ip: string): string => `conn:${ip}`,
  /** Sessions open on one host (`maxConnections` guards a host's own resources), as shares per process. */
  connectionsTotal: (host: string): string => `conn-host:${host}`,
  /** Unknown-recipient answers given to one client key in its current hour. */
  unknownBudget: (ip: string): string => `unknown:${ip}`,
  /** When the last notice to `sender` about `rcpt` went out (value: epoch ms). */
  noticePair: (sender: string, rcpt: string): string =>
    `notice-pair:${sender.toLowerCase()}\u0000${rcpt.toLowerCase()}`,
  /** Notices of the last hour (members: entry ids). */
  noticeHour: (): string => 'notice-hour',
  /** What the upstream mailbox server said of an address. */
  verify: (address: string): string => `verify:${address.toLowerCase()}`,
  /** Bytes committed lately to one quarantine directory, as shares per process (src/quarantine/usage.ts). */
  quarantineAdded: (dir: string): string => `quarantine-added:${dir}`,
  /** Observe-mode probes of one client key in its current hour that found no mailbox. */
  observeProbes: (ip: string): string => `observe-probes:${ip}`,
} as const;
