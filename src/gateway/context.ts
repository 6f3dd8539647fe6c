// What every SMTP phase of the gateway shares: its dependencies and the per-host counters.
import type { SpoolWriter } from '../message/spool.js';
import type { EventSink } from '../observability/events.js';
import type { StateStore } from '../state/store.js';
import type { ConnectionCounter, UnknownBudget } from '../policy/limits.js';
import { replies, type SmtpReply } from '../smtp/replies.js';
import type { Runtime } from './runtime.js';
import type { Sessions } from './sessions.js';
import type { SealedMemoryBudget } from '../quarantine/sealed-memory.js';
import type { OutboxLane } from '../notice/lane.js';

export interface GatewayDeps {
  readonly runtime: () => Runtime;
  readonly events: EventSink;
  readonly isShuttingDown: () => boolean;
  readonly now?: () => Date;
  readonly spoolWriter?: SpoolWriter;
  /** Messages up to this size are held in memory instead of a spool file (tests set 0 to exercise the spool). */
  readonly spoolMemoryLimit?: number;
  /** Called when a transaction starts and ends, so shutdown can wait for DATA in flight. */
  readonly inFlight?: { begin(): void; end(): void };
  /**
   * A quarantine entry was committed (after its 250 was decided): the notice outbox takes it from
   * here, in the notice lane when its notice is pending, else in the evidence lane (outbox.ts).
   */
  readonly onQuarantined?: (qid: string, lane: OutboxLane) => void;
  /** Why mail cannot be stored right now (src/storage/health.ts), or null: MAIL FROM is refused meanwhile. */
  readonly storageFailure?: () => 'storage-full' | 'storage-not-writable' | null;
  /** What limits are counted in (src/state/): shared by workers and hosts; this process's memory by default. */
  readonly state?: StateStore;
  /**
   * This process among all sharing the state store, and its host (`maxConnections` is per host); by
   * default the instance id (CATCHALL_GUARD_INSTANCE_ID or the host name) for both. Cluster workers
   * give each worker a holder of its own.
   */
  readonly stateHolder?: { readonly holder: string; readonly host: string };
}

export interface GatewayContext {
  readonly deps: GatewayDeps;
  readonly events: EventSink;
  readonly now: () => Date;
  readonly sessions: Sessions;
  readonly connections: ConnectionCounter;
  readonly unknownBudget: UnknownBudget;
  /** quarantine.sealedSpoolMemory: the shares of the sealed transactions in memory (quarantine/sealed-memory.ts). */
  readonly sealedMemory: SealedMemoryBudget;
}

/** A state the SMTP layer should make impossible: refused for now (the client retries), logged with its reason. */
export function internal(ctx: GatewayContext, sid: string, where: string, reason: string): SmtpReply {
  ctx.events.emit({ event: 'error', where, sid, error: reason, reason });
  return replies.storageFailure(reason);
}
