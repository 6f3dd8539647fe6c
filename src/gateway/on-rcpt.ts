// MAIL FROM and RCPT TO: the transaction's sender, then one policy decision per recipient.
import { normalizeSender } from '../address/parse.js';
import { parseRrvs } from '../address/rrvs.js';
import { mailDsn, rcptDsn, type RcptDsn } from '../message/dsn-params.js';
import {
  countsAsUnknown,
  decideRecipient,
  rcptLimits,
  transactionKindOf,
  type RcptOutcome,
  type TransactionKind,
  type UpstreamAnswer,
} from '../policy/decide.js';
import { lookupRecipient, senderFacts } from '../policy/lookup.js';
import { askUpstream, upstreamFields } from '../verify/ask.js';
import { createProbeLedger } from '../verify/probe-ledger.js';
import type { SessionInfo } from '../smtp/server.js';
import { reasonForRcpt, replies, replyForRcpt, replyForStorage, type SmtpReply } from '../smtp/replies.js';
import type { AcceptedRecipient } from '../transaction/plan.js';
import { internal, type GatewayContext } from './context.js';
import type { Runtime } from './runtime.js';
import { envelopeKey } from './sessions.js';
import { declaredSizeOf } from '../quarantine/sealed-memory.js';
import { sealedShareRefusal } from './sealed-share.js';

type Params = Readonly<Record<string, string | boolean>>;

export function onMailFrom(
  ctx: GatewayContext,
): (info: SessionInfo, address: string, params: Params) => Promise<SmtpReply | null> {
  return async (info, address, params) => {
    if (ctx.deps.isShuttingDown()) return replies.shuttingDown();
    const state = ctx.sessions.get(info.sid);
    // smtp-server runs onConnect before any command: a session we do not know is a bug, never a 250
    if (!state) return internal(ctx, info.sid, 'mail', 'no-session');
    // a new transaction: the last one's share of the sealed spool goes back, the client's SIZE= is noted
    ctx.sealedMemory.begin(info.sid, declaredSizeOf(params['SIZE']));
    // as Postfix does: refused before the client sends a message we could not store
    const storage = ctx.deps.storageFailure?.() ?? null;
    if (storage) {
      const r = replyForStorage(storage);
      ctx.events.emit({ event: 'mail', sid: info.sid, from: normalizeSender(address), code: r.code, reason: storage });
      return r;
    }
    state.tx = {
      from: normalizeSender(address),
      dsn: mailDsn(params),
      smtputf8: params['SMTPUTF8'] === true,
      recipients: new Map(),
    };
    return null;
  };
}

/** What the transaction keeps of an accepted recipient; null for every refusal. */
function acceptedRecipient(outcome: RcptOutcome, dsn: RcptDsn | null): AcceptedRecipient | null {
  switch (outcome.kind) {
    case 'accept':
      return {
        kind: 'deliver',
        delivery: { address: outcome.recipient.normalized, mailbox: `${outcome.mailbox}@${outcome.recipient.domain}` },
      };
    case 'observe':
      return {
        kind: 'observe',
        address: outcome.recipient.normalized,
        delivery: {
          address: outcome.deliverTo,
          mailbox: outcome.deliverTo,
          originalRecipient: outcome.recipient.normalized,
        },
      };
    case 'quarantine':
    case 'reject-after-data':
      return { kind: outcome.kind, address: outcome.recipient.normalized, ...(dsn ? { dsn } : {}) };
    default:
      return null;
  }
}

/** The kind the recipients accepted so far give the transaction (all share one, SPEC §4), leaving out `key`. */
function kindSoFar(recipients: ReadonlyMap<string, AcceptedRecipient>, key: string): TransactionKind | null {
  for (const [k, r] of recipients) {
    if (k !== key) return r.kind === 'reject-after-data' ? 'rejecting' : 'accepting';
  }
  return null;
}

export function onRcptTo(
  ctx: GatewayContext,
): (info: SessionInfo, address: string, params: Params) => Promise<SmtpReply | null> {
  let wasFull = false;
  const probes = createProbeLedger({ state: ctx.deps.state });
  /** Whether quarantine.maxSize is reached; a change either way is logged once, as a `quota` event. */
  async function quarantineFull(rt: Runtime): Promise<boolean> {
    const limit = rt.config.quarantine.maxSize;
    // no quota (and none just lifted): no state-store call
    if (limit <= 0 && !wasFull) return false;
    const bytes = await rt.quarantineUsage.bytes();
    const full = limit > 0 && bytes >= limit;
    if (full !== wasFull) {
      wasFull = full;
      ctx.events.emit({ event: 'quota', full, bytes, limit });
    }
    return full;
  }

  return async (info, address, params) => {
    const rt = ctx.deps.runtime();
    const state = ctx.sessions.get(info.sid);
    const tx = state?.tx;
    // smtp-server answers 503 itself before MAIL; reaching here without a transaction is a bug, never a 250
    if (!state || !tx) return internal(ctx, info.sid, 'rcpt', 'no-transaction');
    const { recipient, answer, ownership } = lookupRecipient(address, rt.directory);
    const rrvsValue = params['RRVS'];
    const rrvs = typeof rrvsValue === 'string' ? parseRrvs(rrvsValue) : null;
    if (typeof rrvsValue === 'string' && rrvs === null) {
      const r = replies.badRrvs();
      ctx.events.emit({
        event: 'rcpt',
        sid: info.sid,
        from: tx.from,
        rcpt: address,
        decision: 'invalid',
        code: r.code,
        reason: 'malformed-rrvs',
      });
      return r;
    }
    const key = envelopeKey(address);
    const kind = kindSoFar(tx.recipients, key);
    // SPEC §4: after the directory, before the mode; the harvest limits are judged before any probe. An
    // address only the upstream can vouch for holds a place in its IP's ledger from before the budget is
    // read until its answer is counted, so parallel sessions cannot probe past the limit between them
    const verifies =
      answer?.kind === 'unknown' &&
      recipient.kind === 'mailbox' &&
      ['on', 'pending'].includes(rt.verifier.status(recipient.address.domain));
    const place = verifies ? probes.enter(state.ip) : null;
    const observes = place !== null && answer?.kind === 'unknown' && answer.mode === 'observe';
    let upstream: UpstreamAnswer | undefined;
    let outcome: RcptOutcome;
    try {
      // asked together: one round trip to the state store (the IPC store sends a turn's calls as one message)
      const [unknownForIp, quarantineIsFull, observeSpent] = await Promise.all([
        ctx.unknownBudget.used(state.ip),
        quarantineFull(rt),
        observes ? probes.observeSpent(state.ip) : 0,
      ]);
      const facts = {
        recipient,
        answer,
        counts: {
          // a repeated RCPT replaces its earlier self in smtp-server's envelope, so it is not counted twice
          rcptInTransaction: tx.recipients.size - (tx.recipients.has(key) ? 1 : 0),
          unknownInSession: state.unknownRecipients,
          unknownForIp,
        },
        limits: rcptLimits(rt.config.server),
        shuttingDown: ctx.deps.isShuttingDown(),
        quarantineFull: quarantineIsFull,
        ...senderFacts(tx.from),
        nowMs: ctx.now().getTime(),
        rrvsSinceMs: rrvs?.sinceMs,
        ownership,
        transactionKind: kind,
      };
      upstream = place
        ? await askUpstream(rt.verifier, facts, {
            forIp: { underWay: place.underWay, observeSpent },
            // not awaited: the store takes a process's calls in order, so the next RCPT's read sees it
            spendObserve: () => void probes.spendObserve(state.ip),
          })
        : undefined;
      outcome = decideRecipient({ ...facts, upstream });
      if (countsAsUnknown(outcome)) {
        state.unknownRecipients++;
        await ctx.unknownBudget.record(state.ip);
      }
    } finally {
      place?.leave();
    }
    // with quarantine.sealTo the message will stay in memory: its share first, refused before DATA
    const sealedFull = sealedShareRefusal(ctx, rt, info.sid, outcome, {
      from: tx.from,
      rcpt: recipient.kind === 'mailbox' ? recipient.address.normalized : address,
    });
    if (sealedFull) return sealedFull;
    const reply = replyForRcpt(outcome, { smtputf8: tx.smtputf8 === true });
    const reason = reasonForRcpt(outcome);
    ctx.events.emit({
      event: 'rcpt',
      sid: info.sid,
      from: tx.from,
      rcpt: recipient.kind === 'mailbox' ? recipient.address.normalized : address,
      decision: outcome.kind,
      code: reply.code,
      ...(reason ? { reason } : {}),
      ...(answer?.kind === 'rule' ? { rule: answer.rule.pattern, ruleAction: answer.rule.action } : {}),
      ...upstreamFields(upstream),
    });
    const accepted = acceptedRecipient(outcome, rcptDsn(params));
    // the policy keeps kinds apart (452 4.5.3); on-data relies on it, so a slip is refused, never stored
    if (accepted && kind !== null && transactionKindOf(outcome) !== kind) {
      return internal(ctx, info.sid, 'rcpt', 'mixed-transaction');
    }
    if (!accepted) return reply;
    tx.recipients.set(key, accepted);
    return null;
  };
}
