// The metadata of a new quarantine entry (SPEC §5), from what the transaction knows. Pure.
import type { Config } from '../config/load.js';
import type { MessageFacts } from '../message/headers.js';
import { judgeAtReceipt } from '../notice/eligibility.js';
import type { QuarantineEntry } from '../quarantine/entry.js';
import type { SessionInfo } from '../smtp/server.js';

export function newQuarantineEntry(input: {
  readonly qid: string;
  readonly receivedAt: Date;
  readonly session: SessionInfo;
  readonly mailFrom: string;
  /** The unknown recipients the entry is for. */
  readonly recipients: readonly string[];
  /** Known and observed recipients of the same message, who did get it. */
  readonly deliveredTo: readonly string[];
  readonly size: number;
  readonly facts: MessageFacts;
  readonly config: Pick<Config, 'quarantine' | 'notices'>;
}): QuarantineEntry {
  const { facts, config, receivedAt, session } = input;
  const atReceipt = judgeAtReceipt({ enabled: config.notices.enabled });
  return {
    id: input.qid,
    receivedAt: receivedAt.toISOString(),
    expiresAt: new Date(receivedAt.getTime() + config.quarantine.retention).toISOString(),
    remoteAddress: session.remoteAddress,
    clientHostname: session.clientHostname,
    helo: session.helo,
    mailFrom: input.mailFrom,
    recipients: [...input.recipients],
    deliveredTo: [...input.deliveredTo],
    size: input.size,
    bodyStored: config.quarantine.storeBody,
    messageId: facts.messageId,
    subject: facts.subject,
    headerFrom: facts.headerFrom,
    headers: {
      autoSubmitted: facts.autoSubmitted,
      precedence: facts.precedence,
      listId: facts.listId,
      listUnsubscribe: facts.listUnsubscribe,
      xAutoResponseSuppress: facts.xAutoResponseSuppress,
    },
    // filled in by the notice outbox, which checks SPF/DMARC off the SMTP path
    auth: null,
    notice:
      atReceipt.kind === 'send'
        ? { status: 'pending', attempts: 0, nextAttemptAt: receivedAt.toISOString() }
        : { status: 'suppressed', reason: atReceipt.reason, attempts: 0 },
  };
}
