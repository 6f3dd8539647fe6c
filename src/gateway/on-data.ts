// DATA: spool the message, plan who gets it, commit (deliver + quarantine), answer, report.
import type { Readable } from 'node:stream';
import { EMPTY_FACTS, readMessageFacts, readMessageId } from '../message/headers.js';
import { releaseMessage, spoolMessage, type SpooledMessage } from '../message/spool.js';
import type { Config } from '../config/load.js';
import { composeAtReceipt } from '../notice/compose-entry.js';
import type { QuarantineEntry } from '../quarantine/entry.js';
import type { QuarantineStore } from '../quarantine/store.js';
import { composeReceivedHeader } from '../message/trace-header.js';
import { newMessageId } from '../quarantine/id.js';
import type { SessionInfo } from '../smtp/server.js';
import { replies, replyForCommit, type SmtpReply } from '../smtp/replies.js';
import { commitTransaction } from '../transaction/commit.js';
import { planRecipients, type AcceptedRecipient } from '../transaction/plan.js';
import { storageReason } from '../delivery/reason.js';
import { errorText } from '../observability/error-text.js';
import { internal, type GatewayContext } from './context.js';
import { newQuarantineEntry } from './quarantine-entry.js';
import { sealedShareAtData } from './sealed-share.js';
import { envelopeKey } from './sessions.js';
import { laneOf } from '../notice/lane.js';

type DataStream = Readable & { sizeExceeded?: boolean };

/**
 * The store as the commit sees it for a sealed entry: its prepare seals the message to `sealTo` and
 * writes beside it the notices composed now, from the header block in memory (SPEC §5). A notice that
 * cannot be composed leaves the entry without one (the outbox records compose-error); the message is
 * still kept.
 */
async function sealingStore(
  store: QuarantineStore,
  entry: QuarantineEntry,
  sealTo: string,
  message: SpooledMessage,
  config: Config,
  date: Date,
  events: GatewayContext['events'],
): Promise<QuarantineStore> {
  const stored = message.kind === 'memory' ? message.data.subarray(0, message.headerEnd) : message.headerBlock;
  const notices = await composeAtReceipt(entry, stored, config, date).catch((err: unknown) => {
    events.emit({ event: 'error', where: 'notice-outbox', qid: entry.id, error: errorText(err) });
    return [];
  });
  return { ...store, prepare: (e, m, storeBody) => store.prepare(e, m, storeBody, { sealTo, notices }) };
}

/** Reads the rest of a message we will not store, so the reply comes after the final dot. */
async function drain(stream: DataStream): Promise<void> {
  for await (const chunk of stream as AsyncIterable<Buffer>) void chunk;
}

export function onData(
  ctx: GatewayContext,
): (info: SessionInfo, stream: DataStream, rcpts: readonly string[]) => Promise<SmtpReply> {
  const { deps, events } = ctx;
  const receive = async (info: SessionInfo, stream: DataStream, rcpts: readonly string[]): Promise<SmtpReply> => {
    const started = Date.now();
    const rt = deps.runtime();
    const state = ctx.sessions.get(info.sid);
    const tx = state?.tx ?? null;
    if (state) state.tx = null;
    const matched = rcpts.map((r) => tx?.recipients.get(envelopeKey(r)));
    const accepted = matched.filter((r): r is AcceptedRecipient => r !== undefined);
    // every envelope recipient was accepted by onRcptTo; one we cannot find would be stored nowhere
    if (!tx || rcpts.length === 0 || accepted.length !== rcpts.length) {
      await drain(stream).catch(() => undefined);
      return internal(ctx, info.sid, 'data', tx ? 'recipient-mismatch' : 'no-transaction');
    }
    const plan = planRecipients(accepted);
    const qid = newMessageId(ctx.now());
    const from = tx.from;
    const receivedAt = ctx.now();
    deps.inFlight?.begin();
    try {
      const trace = composeReceivedHeader({
        helo: info.helo,
        clientHostname: info.clientHostname,
        remoteAddress: info.remoteAddress,
        hostname: rt.config.server.hostname,
        protocol: info.protocol === 'ESMTPS' || info.secure ? 'ESMTPS' : info.protocol === 'SMTP' ? 'SMTP' : 'ESMTP',
        qid,
        recipients: plan.envelope,
        date: receivedAt,
      });
      // a spool file becomes the stored copy (hard-linked) for Maildir and quarantine, so it is fsynced;
      // for an upstream alone the upstream's 250 is the durability, and an fsync would only cost time
      const sync = rt.config.delivery.type === 'maildir' || plan.quarantined.length > 0;
      // quarantine.sealTo: a message for the quarantine never touches the disk in clear, not even the
      // spool; it stays in memory (at most maxMessageSize) until it is sealed (README: sealed quarantine)
      const keepsEntry = plan.rejected.length > 0 || plan.quarantined.length > 0;
      const sealTo = keepsEntry ? rt.config.quarantine.sealTo : undefined;
      // …and holds at most its share of quarantine.sealedSpoolMemory, taken at RCPT (sealed-share.ts)
      const share = sealTo !== undefined ? sealedShareAtData(ctx, rt, info.sid) : null;
      if (share === 0) {
        await drain(stream).catch(() => undefined);
        const r = replies.sealedMemoryFull();
        events.emit({
          ...{ sid: info.sid, qid, from, messageId: null, delivered: [], quarantined: [], size: 0 },
          event: 'message',
          durationMs: Date.now() - started,
          code: r.code,
          outcome: 'temporary',
          reason: 'sealed-memory-full',
        });
        return r;
      }
      const maxBytes = share ? Math.min(rt.config.server.maxMessageSize, share) : rt.config.server.maxMessageSize;
      const spooled = await spoolMessage(stream, {
        dir: rt.spoolDir,
        name: qid,
        traceHeader: trace,
        maxBytes,
        sync,
        ...(sealTo !== undefined
          ? { memoryLimit: Number.MAX_SAFE_INTEGER }
          : deps.spoolMemoryLimit !== undefined
            ? { memoryLimit: deps.spoolMemoryLimit }
            : {}),
        ...(deps.spoolWriter ? { writer: deps.spoolWriter } : {}),
      }).catch((err: unknown) => ({ kind: 'failed' as const, err }));
      const base = { sid: info.sid, qid, from, messageId: null, delivered: [], quarantined: [], size: 0 };
      if (spooled.kind === 'aborted') {
        events.emit({
          ...base,
          event: 'message',
          durationMs: Date.now() - started,
          code: 0,
          outcome: 'aborted',
          reason: 'client-gone',
        });
        return replies.storageFailure('client-gone'); // nobody reads it: the client is gone
      }
      if (spooled.kind !== 'spooled') {
        const reason = spooled.kind === 'too-large' ? 'message-too-large' : storageReason(spooled.err);
        const r = spooled.kind === 'too-large' ? replies.messageTooLarge(maxBytes) : replies.storageFailure(reason);
        events.emit({
          ...base,
          event: 'message',
          durationMs: Date.now() - started,
          code: r.code,
          outcome: spooled.kind === 'too-large' ? 'too-large' : 'temporary',
          reason,
          ...(spooled.kind === 'failed' ? { detail: errorText(spooled.err) } : {}),
        });
        return r;
      }
      const message = spooled.message;
      try {
        // a transaction is either accepting or rejecting (SPEC §4), never both: policy/decide.ts
        const rejecting = plan.rejected.length > 0;
        // the full header facts feed the entry and its notice; the log needs only the Message-ID
        const facts = keepsEntry
          ? await readMessageFacts(message.headerBlock)
          : { ...EMPTY_FACTS, messageId: readMessageId(message.headerBlock) };
        const cfg = rt.config;
        // a reject-after-data record holds the header block only: the sender gets its message back
        const storeBody = cfg.quarantine.storeBody && !rejecting;
        const entry = !keepsEntry
          ? null
          : newQuarantineEntry({
              qid,
              receivedAt,
              session: info,
              mailFrom: from,
              recipients: plan.entryRecipients,
              kind: rejecting ? 'rejected' : 'quarantined',
              mailDsn: tx.dsn,
              deliveredTo: [...plan.delivered, ...plan.observed],
              size: message.size,
              facts,
              config: cfg,
            });
        const quarantine =
          entry && sealTo !== undefined
            ? await sealingStore(rt.quarantine, entry, sealTo, message, cfg, receivedAt, events)
            : rt.quarantine;
        const outcome = await commitTransaction(
          { qid, mailFrom: from, deliveries: plan.deliveries, quarantineEntry: entry, storeBody },
          message,
          { delivery: rt.delivery, quarantine },
        );
        const stored = outcome.kind === 'stored';
        const r = stored && rejecting ? replies.rejectedAfterData(plan.rejected) : replyForCommit(outcome);
        if (stored && entry) {
          // the entry's .eml (or its header block) is what fills the quarantine
          rt.quarantineUsage.add(storeBody ? message.size : message.headerEnd);
          // the outbox sends the notice, and records the sender's SPF/DMARC for the owner in any case
          deps.onQuarantined?.(qid, laneOf(entry));
        }
        const refused = stored ? outcome.refused : [];
        events.emit({
          ...base,
          event: 'message',
          delivered: stored ? plan.delivered.filter((a) => !refused.includes(a)) : [],
          ...(refused.length > 0 ? { refused: [...refused] } : {}),
          quarantined: stored ? [...plan.quarantined] : [],
          ...(stored && rejecting ? { rejected: [...plan.rejected], reason: 'user-unknown' } : {}),
          ...(stored && plan.observed.length > 0 ? { observed: [...plan.observed] } : {}),
          size: message.size,
          messageId: facts.messageId,
          durationMs: Date.now() - started,
          code: r.code,
          outcome: stored && rejecting ? 'rejected' : outcome.kind,
          ...(outcome.kind === 'temporary' ? { reason: outcome.reason, detail: outcome.detail } : {}),
          ...(outcome.kind === 'permanent' ? { reason: 'upstream-refused', detail: outcome.upstream.text } : {}),
        });
        return r;
      } finally {
        await releaseMessage(message);
      }
    } finally {
      deps.inFlight?.end();
    }
  };
  // however the transaction ends, its share of the sealed spool goes back
  return (info, stream, rcpts) => receive(info, stream, rcpts).finally(() => ctx.sealedMemory.release(info.sid));
}
