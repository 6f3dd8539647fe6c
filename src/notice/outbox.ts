// The background worker that sends notices, never on the SMTP path. It keeps a small in-memory
// schedule (entry id → when it is due), fed by a scan of the quarantine at start, by kick(qid) after
// each quarantine commit, by each deferral, and by an hourly rescan as a safety net. The entries'
// JSON stays the truth: the schedule can always be rebuilt from it.
//
// Two lanes. A pending notice tells a sender something now; an entry that only lacks the sender's
// SPF/DMARC evidence (notices off, suppressed, a reject-after-data record) waits for nobody. So a
// flood of the latter never takes the slots of the former: evidence runs one entry at a time, in a
// slot notices leave free, and off the SMTP side's back (its DKIM/DMARC check is a few ms of CPU).
import { earliestDue } from './due-order.js';
import { errorText } from '../observability/error-text.js';
import type { Config } from '../config/load.js';
import type { EventSink } from '../observability/events.js';
import { parseMessageId, type MessageId } from '../quarantine/id.js';
import type { QuarantineStore } from '../quarantine/store.js';
import type { QuarantineEntry } from '../quarantine/entry.js';
import { createSystemResolver, type DnsResolver } from '../sender-auth/dns.js';
import { attemptNotice, NOTICE_CLAIM_STALE_MS, throttleLimits, type AttemptContext } from './attempt.js';
import { DEFAULT_RETRY_BASE_MS, DEFAULT_RETRY_WINDOW_MS } from './backoff.js';
import { withDkimSigning } from './dkim-sign.js';
import { loadNoticeTemplate } from './templates.js';
import type { StateStore } from '../state/store.js';
import { createNoticeThrottle } from './throttle.js';
import { createDirectTransport, createSmarthostTransport, type NoticeTransport } from './transport.js';
import { laneOf, type OutboxLane } from './lane.js';
export type { OutboxLane } from './lane.js';

/** Notices in flight at once: each may wait on DNS and a remote MX, none may starve the SMTP side. */
const CONCURRENCY = 4;
/** Entries that only need their evidence recorded, at once, within CONCURRENCY. */
const EVIDENCE_CONCURRENCY = 1;
/** The safety net behind kick(): entries another instance wrote, or a kick that was missed. */
const RESCAN_MS = 3_600_000;

export interface OutboxDeps {
  /** The current runtime: config and store are re-read on every attempt, so a reload applies at once. */
  readonly runtime: () => { readonly config: Config; readonly quarantine: QuarantineStore };
  readonly events: EventSink;
  /** Where the throttle lives: shared by workers and MX hosts (src/state/); memory of its own when absent. */
  readonly state?: StateStore;
  readonly now?: () => Date;
  /** DNS for SPF/DMARC and for direct-to-MX; the system resolver by default. */
  readonly resolver?: DnsResolver;
  /** Backoff unit (default one minute); tests make it small. */
  readonly retryBaseMs?: number;
  /** How long temporary failures are retried, from the message's arrival (default 24 h). */
  readonly retryWindowMs?: number;
  /** `direct` transport: the MX port (25) and whether loopback MX addresses are allowed (tests). */
  readonly direct?: { readonly port?: number; readonly allowUnroutable?: boolean };
}

export interface Outbox {
  /** Recovers interrupted sends, rebuilds the throttle, schedules pending entries, starts the timer. */
  start(): Promise<void>;
  /** Stops scheduling and waits (at most graceMs) for sends in flight. */
  stop(graceMs?: number): Promise<void>;
  /**
   * A new entry was committed: look now (`evidence`: its notice is not pending, only its SPF/DMARC
   * is to be recorded, in the slower lane). Without an id, something changed on disk (another
   * instance was found gone): entries it left `sending` are closed and pending ones scheduled, now.
   */
  kick(qid?: string, lane?: OutboxLane): void;
}

const MAX_TIMER_MS = 60_000;

export function buildNoticeTransport(
  config: Config,
  deps: Pick<OutboxDeps, 'direct'> & { readonly resolver: DnsResolver },
): NoticeTransport {
  const t = config.notices.transport;
  const hostname = config.server.hostname;
  const transport =
    t.type === 'smtp' && t.host
      ? createSmarthostTransport(
          { host: t.host, port: t.port, secure: t.secure, requireTLS: t.requireTLS, auth: t.auth },
          { hostname },
        )
      : createDirectTransport({
          hostname,
          resolver: deps.resolver,
          ...(deps.direct?.port !== undefined ? { port: deps.direct.port } : {}),
          ...(deps.direct?.allowUnroutable !== undefined ? { allowUnroutable: deps.direct.allowUnroutable } : {}),
        });
  // the one place notices are signed: every format, every transport, and every retry (a fresh t= each time)
  return config.notices.dkim ? withDkimSigning(transport, config.notices.dkim) : transport;
}

export function createOutbox(deps: OutboxDeps): Outbox {
  const now = deps.now ?? (() => new Date());
  const resolver = deps.resolver ?? createSystemResolver();
  const concurrency = CONCURRENCY;
  const throttle = createNoticeThrottle(deps.state);
  const due = new Map<MessageId, number>();
  /** Entries waiting for their evidence only, in the order they came (each is due at once). */
  const evidenceDue = new Set<MessageId>();
  const active = new Map<MessageId, Promise<void>>();
  let activeEvidence = 0;
  let started = false;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let rescanTimer: NodeJS.Timeout | null = null;
  let pumpQueued = false;

  function context(): AttemptContext {
    const { config, quarantine } = deps.runtime();
    return {
      config,
      store: quarantine,
      transport: buildNoticeTransport(config, { resolver, ...(deps.direct ? { direct: deps.direct } : {}) }),
      throttle,
      events: deps.events,
      resolver,
      now,
      retryBaseMs: deps.retryBaseMs ?? DEFAULT_RETRY_BASE_MS,
      retryWindowMs: deps.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS,
      loadTemplate: (language, dir) => loadNoticeTemplate(language, dir),
    };
  }

  const reportError = (id: MessageId, err: unknown): void =>
    deps.events.emit({ event: 'error', where: 'notice-outbox', qid: id, error: errorText(err) });

  function run(id: MessageId, lane: OutboxLane = 'notice'): void {
    if (lane === 'evidence') activeEvidence++;
    const p = attemptNotice(id, context())
      .then((outcome) => {
        if (outcome.kind === 'retry-at' && !stopped) due.set(id, outcome.atMs);
      })
      .catch((err: unknown) => {
        // a store that cannot be read now: leave the entry as it is on disk, look again later
        reportError(id, err);
        if (!stopped) due.set(id, now().getTime() + (deps.retryBaseMs ?? DEFAULT_RETRY_BASE_MS));
      })
      .finally(() => {
        active.delete(id);
        if (lane === 'evidence') activeEvidence--;
        schedulePump();
      });
    active.set(id, p);
  }

  function pump(): void {
    pumpQueued = false;
    if (!started || stopped) return;
    if (timer) clearTimeout(timer);
    timer = null;
    // every attempt that finishes pumps again: with all slots busy there is nothing to pick or time
    if (active.size >= concurrency) return;
    const nowMs = now().getTime();
    for (const id of earliestDue(due, active, nowMs, concurrency - active.size)) {
      due.delete(id);
      run(id);
    }
    for (const id of evidenceDue) {
      if (active.size >= concurrency || activeEvidence >= EVIDENCE_CONCURRENCY) break;
      evidenceDue.delete(id);
      if (!active.has(id) && !due.has(id)) run(id, 'evidence');
    }
    if (active.size >= concurrency) return;
    // a loop, not Math.min(...): a flood can leave more entries waiting than a call takes arguments
    let next = Number.POSITIVE_INFINITY;
    for (const [id, at] of due) if (!active.has(id) && at < next) next = at;
    if (next === Number.POSITIVE_INFINITY) return;
    const delay = Math.min(Math.max(next - nowMs, 0), MAX_TIMER_MS);
    timer = setTimeout(pump, delay);
    timer.unref();
  }

  function schedulePump(): void {
    if (pumpQueued || stopped) return;
    pumpQueued = true;
    setImmediate(pump);
  }

  async function scan(): Promise<void> {
    const store = deps.runtime().quarantine;
    for (const e of await store.list()) {
      const id = parseMessageId(e.id);
      // pending notices, and entries still without the sender's SPF/DMARC evidence (SPEC §5)
      if (!id || active.has(id)) continue;
      if (laneOf(e) === 'evidence') {
        if (e.auth === null) evidenceDue.add(id);
        continue;
      }
      const at = Date.parse(e.notice.nextAttemptAt ?? '');
      due.set(id, Number.isFinite(at) ? at : now().getTime());
    }
  }

  /**
   * An entry left `sending` by a crash: the peer may have accepted it, and sending again could
   * duplicate it, so it is closed as failed (at most once). Not while another live instance on the
   * shared volume holds its claim. False when it was left alone.
   */
  async function closeInterrupted(e: QuarantineEntry, id: MessageId): Promise<boolean> {
    const { quarantine } = deps.runtime();
    if (!(await quarantine.claimNotice(id, NOTICE_CLAIM_STALE_MS).catch(() => false))) return false;
    const reason = 'interrupted-possibly-sent';
    const written = await quarantine
      .updateNotice(id, { ...e.notice, status: 'failed', reason })
      .catch((err: unknown) => {
        // still `sending` on disk, so still never sent again: the next sweep tries to close it once more
        reportError(id, err);
        return null;
      });
    await quarantine.releaseNotice(id).catch(() => undefined);
    if (written)
      deps.events.emit({
        event: 'notice',
        qid: id,
        to: e.mailFrom || '<>',
        status: 'failed',
        reason,
        attempts: e.notice.attempts,
      });
    return true;
  }

  async function recover(): Promise<void> {
    const { config, quarantine } = deps.runtime();
    const nowMs = now().getTime();
    const horizonMs = Math.max(config.notices.perSenderInterval, 3_600_000);
    const limits = throttleLimits(config.notices);
    for (const e of await quarantine.list()) {
      const id = parseMessageId(e.id);
      if (!id) continue;
      if (e.notice.status === 'sending') {
        if (await closeInterrupted(e, id))
          await throttle.record(
            id,
            e.mailFrom,
            e.recipients,
            Math.min(Date.parse(e.notice.nextAttemptAt ?? '') || nowMs, nowMs),
            nowMs,
            limits,
          );
      } else if (e.notice.status === 'sent' && e.notice.sentAt) {
        const sentMs = Date.parse(e.notice.sentAt);
        if (Number.isFinite(sentMs) && nowMs - sentMs < horizonMs)
          await throttle.record(id, e.mailFrom, e.recipients, sentMs, nowMs, limits);
      }
    }
  }

  /** Hourly: entries whose claim went stale meanwhile (their holder, another instance, died). */
  async function sweepInterrupted(): Promise<void> {
    for (const e of await deps.runtime().quarantine.list()) {
      const id = parseMessageId(e.id);
      if (id && e.notice.status === 'sending' && !active.has(id)) await closeInterrupted(e, id);
    }
  }

  return {
    async start() {
      if (started) return;
      await recover();
      await scan();
      started = true;
      rescanTimer = setInterval(() => {
        sweepInterrupted()
          .then(scan)
          .then(schedulePump, () => undefined);
      }, RESCAN_MS);
      rescanTimer.unref();
      schedulePump();
    },
    async stop(graceMs = 5_000) {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (rescanTimer) clearInterval(rescanTimer);
      timer = rescanTimer = null;
      if (active.size === 0) return;
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, graceMs);
        graceTimer.unref();
      });
      await Promise.race([Promise.allSettled([...active.values()]).then(() => undefined), grace]);
      clearTimeout(graceTimer);
    },
    kick(qid, lane = 'notice') {
      if (stopped) return;
      if (qid === undefined) {
        sweepInterrupted()
          .then(scan)
          .then(schedulePump, () => undefined);
        return;
      }
      const id = parseMessageId(qid);
      if (id && !active.has(id)) {
        if (lane === 'evidence') evidenceDue.add(id);
        else due.set(id, Math.min(due.get(id) ?? Infinity, now().getTime()));
      }
      schedulePump();
    },
  };
}
