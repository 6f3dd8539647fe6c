// The gateway: SMTP hooks wired to address parsing, the directory, the policy and the DATA pipeline.
// Holds no SMTP wire knowledge (smtp/) and no decision logic (policy/).
import type { Readable } from 'node:stream';
import { normalizeSender } from '../address/parse.js';
import { lookupRecipient } from '../policy/lookup.js';
import { composeReceivedHeader } from '../message/trace-header.js';
import { EMPTY_FACTS, readMessageFacts, readMessageId } from '../message/headers.js';
import { releaseMessage, spoolMessage, type SpoolWriter } from '../message/spool.js';
import type { EventSink } from '../observability/events.js';
import { countsAsUnknown, decideRecipient, rcptLimits } from '../policy/decide.js';
import { clientKey, createConnectionCounter, createUnknownBudget, type UnknownBudget } from '../policy/limits.js';
import { newMessageId } from '../quarantine/id.js';
import type { SessionInfo, SmtpHooks } from '../smtp/server.js';
import type { DeadlineKind } from '../smtp/server.js';
import { replies, replyForCommit, replyForRcpt, type SmtpReply } from '../smtp/replies.js';
import { commitTransaction } from '../transaction/commit.js';
import { newQuarantineEntry } from './quarantine-entry.js';
import type { Runtime } from './runtime.js';
import { envelopeKey, type AcceptedRecipient, type SessionState } from './session-state.js';

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
}

export interface Gateway extends SmtpHooks {
  readonly unknownBudget: UnknownBudget;
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function createGateway(deps: GatewayDeps): Gateway {
  const now = deps.now ?? (() => new Date());
  const sessions = new Map<string, SessionState>();
  const connections = createConnectionCounter();
  const unknownBudget = createUnknownBudget();
  const { events } = deps;

  function stateOf(sid: string): SessionState {
    let s = sessions.get(sid);
    if (!s) {
      s = { sid, ip: '', connectedAt: Date.now(), counted: false, unknownRecipients: 0, tx: null };
      sessions.set(sid, s);
    }
    return s;
  }

  async function connect(info: SessionInfo): Promise<SmtpReply | null> {
    const rt = deps.runtime();
    const server = rt.config.server;
    const state: SessionState = { sid: info.sid, ip: clientKey(info.remoteAddress), connectedAt: Date.now(), counted: false, unknownRecipients: 0, tx: null };
    sessions.set(info.sid, state);
    let refusal: SmtpReply | null = null;
    if (deps.isShuttingDown()) refusal = replies.shuttingDown();
    else if (server.maxUnknownRecipientsPerIp > 0 && unknownBudget.used(state.ip) >= server.maxUnknownRecipientsPerIp) refusal = replies.harvestLimitIp();
    else {
      const verdict = connections.tryOpen(state.ip, { total: server.maxConnections, perIp: server.maxConnectionsPerIp });
      if (verdict === 'ok') state.counted = true;
      else refusal = verdict === 'total' ? replies.tooManyConnections() : replies.tooManyConnectionsIp();
    }
    events.emit({ event: 'connect', sid: info.sid, remoteAddress: info.remoteAddress, ...(refusal ? { refused: `${refusal.code} ${refusal.enhanced}` } : {}) });
    return refusal;
  }

  async function mailFrom(info: SessionInfo, address: string): Promise<SmtpReply | null> {
    if (deps.isShuttingDown()) return replies.shuttingDown();
    stateOf(info.sid).tx = { from: normalizeSender(address), recipients: new Map() };
    return null;
  }

  async function rcptTo(info: SessionInfo, address: string): Promise<SmtpReply | null> {
    const rt = deps.runtime();
    const state = stateOf(info.sid);
    const tx = state.tx;
    if (!tx) return null; // smtp-server answers 503 before asking; kept total for safety
    const { recipient, answer } = lookupRecipient(address, rt.directory);
    const key = envelopeKey(address);
    const outcome = decideRecipient({
      recipient,
      answer,
      counts: {
        // a repeated RCPT replaces its earlier self in smtp-server's envelope, so it is not counted twice
        rcptInTransaction: tx.recipients.size - (tx.recipients.has(key) ? 1 : 0),
        unknownInSession: state.unknownRecipients,
        unknownForIp: unknownBudget.used(state.ip),
      },
      limits: rcptLimits(rt.config.server),
      shuttingDown: deps.isShuttingDown(),
      quarantineFull: quarantineFull(rt),
    });
    if (countsAsUnknown(outcome)) {
      state.unknownRecipients++;
      unknownBudget.record(state.ip);
    }
    const reply = replyForRcpt(outcome);
    const rcptLogged = recipient.kind === 'mailbox' ? recipient.address.normalized : address;
    events.emit({
      event: 'rcpt',
      sid: info.sid,
      from: tx.from,
      rcpt: rcptLogged,
      decision: outcome.kind,
      code: reply.code,
      ...('reason' in outcome ? { reason: outcome.reason } : 'limit' in outcome ? { reason: outcome.limit } : {}),
    });
    let accepted: AcceptedRecipient | null = null;
    if (outcome.kind === 'accept') {
      const a = outcome.recipient;
      accepted = { kind: 'deliver', delivery: { address: a.normalized, mailbox: `${outcome.mailbox}@${a.domain}` } };
    } else if (outcome.kind === 'observe') {
      accepted = { kind: 'observe', address: outcome.recipient.normalized, delivery: { address: outcome.deliverTo, mailbox: outcome.deliverTo } };
    } else if (outcome.kind === 'quarantine') {
      accepted = { kind: 'quarantine', address: outcome.recipient.normalized };
    }
    if (!accepted) return reply;
    tx.recipients.set(key, accepted);
    return null;
  }

  async function data(info: SessionInfo, stream: Readable & { sizeExceeded?: boolean }, rcpts: readonly string[]): Promise<SmtpReply> {
    const started = Date.now();
    const rt = deps.runtime();
    const state = stateOf(info.sid);
    const tx = state.tx;
    state.tx = null;
    const accepted = rcpts.map((r) => tx?.recipients.get(envelopeKey(r))).filter((r): r is AcceptedRecipient => r !== undefined);
    const qid = newMessageId(now());
    const from = tx?.from ?? '';
    const receivedAt = now();
    deps.inFlight?.begin();
    try {
      const maxBytes = rt.config.server.maxMessageSize;
      const trace = composeReceivedHeader({
        helo: info.helo,
        clientHostname: info.clientHostname,
        remoteAddress: info.remoteAddress,
        hostname: rt.config.server.hostname,
        protocol: info.protocol === 'ESMTPS' || info.secure ? 'ESMTPS' : info.protocol === 'SMTP' ? 'SMTP' : 'ESMTP',
        qid,
        recipients: accepted.map((a) => (a.kind === 'deliver' ? a.delivery.address : a.address)),
        date: receivedAt,
      });
      // a spool file becomes the stored copy (hard-linked) for Maildir and quarantine, so it is fsynced;
      // for an upstream alone the upstream's 250 is the durability, and an fsync would only cost time
      const sync = rt.config.delivery.type === 'maildir' || accepted.some((a) => a.kind === 'quarantine');
      const spooled = await spoolMessage(stream, { dir: rt.spoolDir, name: qid, traceHeader: trace, maxBytes, sync, ...(deps.spoolMemoryLimit !== undefined ? { memoryLimit: deps.spoolMemoryLimit } : {}), ...(deps.spoolWriter ? { writer: deps.spoolWriter } : {}) }).catch(
        (err: unknown) => ({ kind: 'failed' as const, err }),
      );
      const base = { sid: info.sid, qid, from, messageId: null, durationMs: 0 };
      if (spooled.kind === 'aborted') {
        events.emit({ ...base, event: 'message', delivered: [], quarantined: [], size: 0, durationMs: Date.now() - started, code: 0, outcome: 'aborted' });
        return replies.storageFailure(); // nobody reads it: the client is gone
      }
      if (spooled.kind !== 'spooled') {
        const r = spooled.kind === 'too-large' ? replies.messageTooLarge(maxBytes) : replies.storageFailure();
        events.emit({
          ...base,
          event: 'message',
          delivered: [],
          quarantined: [],
          size: 0,
          durationMs: Date.now() - started,
          code: r.code,
          outcome: spooled.kind === 'too-large' ? 'too-large' : 'temporary',
          ...(spooled.kind === 'failed' ? { detail: errText(spooled.err) } : {}),
        });
        return r;
      }
      const message = spooled.message;
      try {
        const hasQuarantine = accepted.some((a) => a.kind === 'quarantine');
        // the full header facts feed the quarantine entry and its notice; the log needs only the Message-ID
        const facts = hasQuarantine ? await readMessageFacts(message.headerBlock) : { ...EMPTY_FACTS, messageId: readMessageId(message.headerBlock) };
        const deliveries = dedupe(accepted.flatMap((a) => (a.kind === 'quarantine' ? [] : [a.delivery])));
        const quarantined = accepted.flatMap((a) => (a.kind === 'quarantine' ? [a.address] : []));
        const observed = accepted.flatMap((a) => (a.kind === 'observe' ? [a.address] : []));
        const delivered = accepted.flatMap((a) => (a.kind === 'deliver' ? [a.delivery.address] : []));
        const cfg = rt.config;
        const entry =
          quarantined.length === 0
            ? null
            : newQuarantineEntry({ qid, receivedAt, session: info, mailFrom: from, recipients: quarantined, deliveredTo: [...delivered, ...observed], size: message.size, facts, config: cfg });
        const outcome = await commitTransaction(
          { qid, mailFrom: from, deliveries, quarantineEntry: entry, storeBody: cfg.quarantine.storeBody },
          message,
          { delivery: rt.delivery, quarantine: rt.quarantine },
        );
        const r = replyForCommit(outcome);
        // the entry's .eml (or its header block) is what fills the quarantine
        if (outcome.kind === 'stored' && entry) rt.quarantineUsage.add(cfg.quarantine.storeBody ? message.size : message.headerEnd);
        events.emit({
          ...base,
          event: 'message',
          delivered: outcome.kind === 'stored' ? delivered.filter((a) => !outcome.refused.includes(a)) : [],
          ...(outcome.kind === 'stored' && outcome.refused.length > 0 ? { refused: [...outcome.refused] } : {}),
          quarantined: outcome.kind === 'stored' ? quarantined : [],
          ...(observed.length > 0 && outcome.kind === 'stored' ? { observed } : {}),
          size: message.size,
          messageId: facts.messageId,
          durationMs: Date.now() - started,
          code: r.code,
          outcome: outcome.kind,
          ...(outcome.kind === 'temporary' ? { detail: outcome.detail } : outcome.kind === 'permanent' ? { detail: outcome.upstream.text } : {}),
        });
        return r;
      } finally {
        await releaseMessage(message);
      }
    } finally {
      deps.inFlight?.end();
    }
  }

  function close(sid: string): void {
    const state = sessions.get(sid);
    sessions.delete(sid);
    if (state?.counted) connections.release(state.ip);
    events.emit({ event: 'close', sid });
  }

  function earlyTalker(sid: string, remoteAddress: string): void {
    const r = replies.earlyTalker();
    events.emit({ event: 'connect', sid, remoteAddress, refused: `${r.code} ${r.enhanced}` });
  }

  let wasFull = false;
  /** Whether quarantine.maxSize is reached; a change either way is logged once, as a `quota` event. */
  function quarantineFull(rt: Runtime): boolean {
    const limit = rt.config.quarantine.maxSize;
    const bytes = rt.quarantineUsage.bytes();
    const full = limit > 0 && bytes >= limit;
    if (full !== wasFull) {
      wasFull = full;
      events.emit({ event: 'quota', full, bytes, limit });
    }
    return full;
  }

  function deadline(sid: string, limit: DeadlineKind): void {
    const r = limit === 'data' ? replies.dataTimeout() : replies.sessionTimeout();
    events.emit({ event: 'timeout', sid, limit, code: `${r.code} ${r.enhanced}` });
  }

  function failed(where: string, sid: string, err: unknown): void {
    events.emit({ event: 'error', where, sid, error: errText(err) });
  }

  return { connect, mailFrom, rcptTo, data, close, earlyTalker, deadline, failed, unknownBudget };
}

function dedupe<T extends { readonly address: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => (seen.has(i.address) ? false : (seen.add(i.address), true)));
}
