// What the primary and its workers say to each other over the node:cluster IPC channel. Every message
// of ours carries `cg`, so the channel can also carry node:cluster's own messages (and prom-client's,
// were it used) without confusion. Pure: shapes and one guard.
import type { ListenFailure } from '../cli/listen-failure.js';
import type { OutboxLane } from '../notice/lane.js';
import type { StorageReason } from '../storage/preflight.js';

/** Worker → primary. */
export type WorkerMessage =
  /** The SMTP listener is bound and the worker takes sessions. */
  | { readonly cg: 'ready'; readonly host: string; readonly port: number }
  /** The listener could not be bound: the primary says why once and stops. */
  | { readonly cg: 'listen-failed'; readonly failure: ListenFailure }
  /** Log lines, whole, newline-terminated: the primary writes them to the one log destination. */
  | { readonly cg: 'log'; readonly lines: string }
  /** A quarantine entry was committed: the primary's notice outbox looks at it now. */
  | { readonly cg: 'kick'; readonly qid: string; readonly lane: OutboxLane }
  /** A message failed on a storage error: the primary's storage check runs now, not at its next tick. */
  | { readonly cg: 'storage-suspect' }
  /** This worker's metrics, as prom-client's getMetricsAsJSON gives them, answering `metrics` #id. */
  | { readonly cg: 'metrics'; readonly id: number; readonly metrics: unknown }
  /** State-store calls (src/cluster/ipc-store.ts), those of one turn of the event loop together. */
  | { readonly cg: 'state'; readonly calls: readonly StateCall[] };

export interface StateCall {
  readonly id: number;
  readonly op: string;
  readonly args: readonly unknown[];
}

/** The answer to call #id: a value, or the error the primary's store gave. */
export type StateReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** Primary → worker. */
export type PrimaryMessage =
  /** The storage check's verdict, sent when it changes and to every new worker. */
  | { readonly cg: 'storage'; readonly failure: StorageReason | null }
  /** SIGHUP reached the primary and its part reloaded: the worker reloads the configuration file. */
  | { readonly cg: 'reload' }
  /** Drain as a single process does on SIGTERM, then exit 0. */
  | { readonly cg: 'stop' }
  | { readonly cg: 'metrics-request'; readonly id: number }
  /** The answers to one `state` message's calls. */
  | { readonly cg: 'state-reply'; readonly replies: readonly StateReply[] };

/** One of ours (by its `cg` tag); the fields are trusted: both ends are this program. */
export function isOurs<T extends { readonly cg: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { cg?: unknown }).cg === 'string';
}
