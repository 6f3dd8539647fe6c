// The SPEC §7 event catalogue: the only place event names and fields live.
import type { Logger } from 'pino';
import type { DecisionKind } from '../policy/decide.js';
import { createEventLog } from './quiet-probes.js';

export type RcptLogDecision = DecisionKind | 'limited' | 'deferred';

export type LogEvent =
  /** `workers`: with server.workers above 1, the primary's line once every worker listens. */
  | { event: 'listening'; host: string; port: number; proto?: 'smtp' | 'http'; workers?: number }
  /** `refused`: the reply that turned the client away; `reason`: why (a stable code, see README). */
  | { event: 'connect'; sid: string; remoteAddress: string; refused?: string; reason?: string }
  | {
      event: 'rcpt';
      sid: string;
      from: string;
      rcpt: string;
      decision: RcptLogDecision;
      code: number;
      reason?: string;
      /** The address rule that decided (SPEC §3 `addresses`): its local-part or glob, and its action. */
      rule?: string;
      ruleAction?: string;
      /** `verify.upstream` answered: by a probe now (`upstream`) or from the cache (`cache`). */
      source?: 'upstream' | 'cache';
      /** Why the upstream could not answer (a 4xx, a timeout, no connection). */
      detail?: string;
    }
  | {
      event: 'message';
      sid: string;
      qid: string;
      from: string;
      delivered: string[];
      quarantined: string[];
      observed?: string[];
      /** reject-after-data: the unknown recipients named in the 550 after the final dot. */
      rejected?: string[];
      /** Refused permanently by the upstream while it took the message for the other recipients. */
      refused?: string[];
      size: number;
      messageId: string | null;
      durationMs: number;
      code: number;
      /** `aborted`: the client went away or timed out before the final dot (code 0: no reply was given). */
      outcome: 'stored' | 'rejected' | 'temporary' | 'permanent' | 'too-large' | 'aborted';
      /** Every outcome but `stored`: a stable code (`storage-enospc`, `upstream-timeout`, …; README, Logs). */
      reason?: string;
      detail?: string;
    }
  | {
      event: 'notice';
      qid: string;
      to: string;
      status: 'sent' | 'suppressed' | 'deferred' | 'failed';
      reason?: string;
      attempts?: number;
      detail?: string;
    }
  | { event: 'close'; sid: string }
  /**
   * Written at debug: a session's first command other than EHLO, HELO, NOOP, RSET or QUIT (its verb). A
   * loopback session with one is a client's, logged at info (quiet-probes.ts).
   */
  | { event: 'command'; sid: string; command: string }
  /**
   * A trusted PROXY peer's connection ended without a usable header (the client got `* BAD Invalid PROXY
   * header`, or nothing). Warn, once a minute per peer (`repeated`: how many since the last such line);
   * the others of that minute have `repeat: true` and are written at debug.
   */
  | {
      event: 'proxy';
      peer: string;
      reason: 'proxy-header-invalid';
      detail: string;
      repeat?: true;
      repeated?: number;
    }
  /** A refused MAIL FROM (storage failing: `storage-full` 452, `storage-not-writable` 451). */
  | { event: 'mail'; sid: string; from: string; code: number; reason: string }
  /**
   * Whether mail can be stored (src/storage/health.ts): `ok: false` once per problem as it appears (the
   * path, the errno, the operator's fix), `ok: true` when every data directory is fine again.
   */
  | {
      event: 'storage';
      ok: boolean;
      reason?: string;
      path?: string;
      problem?: string;
      code?: string;
      fix?: string;
      freeBytes?: number;
      neededBytes?: number;
    }
  /** The quarantine reached quarantine.maxSize (`full: true`, quarantine RCPTs get 452 4.3.1) or has room again. */
  | { event: 'quota'; full: boolean; bytes: number; limit: number }
  /** A wall-clock bound (server.dataTimeout / sessionTimeout) answered 421 4.4.2 and closed the session. */
  | {
      event: 'timeout';
      sid: string;
      limit: 'data' | 'session';
      code: string;
      reason: 'data-timeout' | 'session-timeout';
    }
  | {
      event: 'reload';
      ok: boolean;
      error?: string;
      what: string;
      domain?: string;
      entries?: number;
      /** Changed keys the running process cannot take over (`server.listen`, …): in force after a restart. */
      restartNeeded?: string[];
    }
  /**
   * The server's retention run: `ids` the entries deleted (the first 1000; `more` counts the rest), so
   * the log keeps what went; `unreadable` the metadata files it could not judge (also an error event).
   */
  | { event: 'purge'; deleted: number; ids?: string[]; more?: number; unreadable?: string[] }
  /**
   * An operator's `quarantine show|release|delete|purge` (SPEC §5, §7): written by the command, it
   * outlives the entry. `by` is the OS user or --as; `raw` a `show --raw`; a purge names the ids it
   * deleted (the first 1000; `more` counts the rest) and the metadata files it could not read.
   */
  | {
      event: 'quarantine';
      action: 'show' | 'release' | 'delete' | 'purge';
      by: string;
      outcome: 'ok' | 'failed' | 'not-found';
      id?: string;
      raw?: boolean;
      to?: string;
      deleted?: number;
      ids?: string[];
      more?: number;
      unreadable?: string[];
      reason?: string;
    }
  /**
   * Instances sharing the data volume (app/instance-lease.ts): this one `started` under `id`, is
   * `waiting` for another host's lease of its id to go silent, or found another instance `peer-gone`.
   */
  | {
      event: 'instance';
      action: 'started' | 'waiting' | 'peer-gone';
      id: string;
      host?: string;
      pid?: number;
      /** `exited`: its process on this host no longer exists. */
      lease?: 'stopped' | 'expired' | 'exited';
      spoolFiles?: number;
    }
  /**
   * `server.workers` above 1 (src/cluster/), written by the primary: worker `id` (1…N) `started` (its
   * listener is up; `replaces`: the pid of the one it replaces), `exited` unexpectedly (`code` or
   * `signal`; replaced after `restartInMs`), or `stopped` during a shutdown.
   */
  | {
      event: 'worker';
      /** `spool-cleared`: the spool files a dead worker left (`spoolFiles`), removed before its replacement starts. */
      action: 'started' | 'exited' | 'stopped' | 'spool-cleared';
      id: number;
      pid: number;
      spoolFiles?: number;
      replaces?: number;
      code?: number | null;
      signal?: string | null;
      restartInMs?: number;
    }
  | { event: 'shutdown'; phase: 'draining' | 'done' | 'forced'; inFlight?: number }
  /**
   * The shared state store (SPEC §3 `state`, src/state/fallback.ts): `ok: false` once per outage of
   * Redis (`reason`: `state-unreachable` or `state-timeout`; limits are per instance meanwhile),
   * `ok: true` when it answers again and is shared once more.
   */
  /** `type: primary`: a cluster worker's calls to the primary's memory store (src/cluster/ipc-store.ts). */
  | { event: 'state'; ok: boolean; type: 'redis' | 'primary'; reason?: string; detail?: string; downMs?: number }
  /** `hint`: what the operator can do about it (listen failures: a capability, a free port). */
  | {
      event: 'error';
      where: string;
      error: string;
      sid?: string;
      qid?: string;
      reason?: string;
      hint?: string;
      /** The served domain it concerns (`verify-upstream-catch-all`). */
      domain?: string;
    };

export type EventListener = (e: LogEvent) => void;

export interface EventSink {
  emit(e: LogEvent): void;
  /** Metrics and tests listen here; logging is one listener among them. */
  subscribe(listener: EventListener): () => void;
}

function levelOf(e: LogEvent): 'info' | 'warn' | 'error' {
  if (e.event === 'error') return 'error';
  if (e.event === 'reload' && !e.ok) return 'error';
  if (e.event === 'storage' && !e.ok) return 'error';
  if (e.event === 'worker' && e.action === 'exited') return 'error';
  if (e.event === 'state' && !e.ok) return 'warn';
  if (e.event === 'proxy') return 'warn';
  if (e.event === 'reload' && (e.restartNeeded?.length ?? 0) > 0) return 'warn';
  if (e.event === 'message' && (e.outcome === 'temporary' || e.outcome === 'permanent' || (e.refused?.length ?? 0) > 0))
    return 'warn';
  return 'info';
}

export function createEventSink(log: Logger): EventSink {
  const listeners = new Set<EventListener>();
  // health probes over loopback are written at debug (quiet-probes.ts); listeners still see them
  const write = createEventLog(log, levelOf);
  return {
    emit(e) {
      write(e);
      for (const l of listeners) l(e);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
