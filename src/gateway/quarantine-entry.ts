// The metadata of a new quarantine entry (SPEC §5), from what the transaction knows. Pure.
import type { Config } from '../config/load.js';
import type { MessageFacts } from '../message/headers.js';
import { judgeAtReceipt } from '../notice/eligibility.js';
import type { QuarantineEntry } from '../quarantine/entry.js';
import type { SessionInfo } from '../smtp/server.js';
import type { MailDsn } from '../message/dsn-params.js';
import type { EntryRecipient } from '../transaction/plan.js';

export function newQuarantineEntry(input: {
  readonly qid: string;
  readonly receivedAt: Date;
  readonly session: SessionInfo;
  readonly mailFrom: string;
  /** The unknown recipients the entry is for, with what they asked through the DSN extension. */
  readonly recipients: readonly EntryRecipient[];
  /** `rejected`: a reject-after-data record (headers only, no notice: the sending server bounces). */
  readonly kind: 'quarantined' | 'rejected';
  /** ENVID and RET of the transaction, when the client used the DSN extension. */
  readonly mailDsn: MailDsn | null;
  /** Known and observed recipients of the same message, who did get it. */
  readonly deliveredTo: readonly string[];
  readonly size: number;
  readonly facts: MessageFacts;
  readonly config: Pick<Config, 'quarantine' | 'notices'>;
}): QuarantineEntry {
  const { facts, config, receivedAt, session } = input;
  const atReceipt = judgeAtReceipt({ enabled: config.notices.enabled });
  const rejected = input.kind === 'rejected';
  const usedDsn = input.mailDsn !== null || input.recipients.some((r) => r.dsn);
  return {
    id: input.qid,
    receivedAt: receivedAt.toISOString(),
    expiresAt: new Date(receivedAt.getTime() + config.quarantine.retention).toISOString(),
    remoteAddress: session.remoteAddress,
    clientHostname: session.clientHostname,
    helo: session.helo,
    mailFrom: input.mailFrom,
    recipients: input.recipients.map((r) => r.address),
    deliveredTo: [...input.deliveredTo],
    size: input.size,
    // a reject-after-data record keeps the header block only, whatever storeBody says
    bodyStored: config.quarantine.storeBody && !rejected,
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
    kind: input.kind,
    ...(usedDsn
      ? {
          dsn: {
            ...(input.mailDsn?.envid !== undefined ? { envid: input.mailDsn.envid } : {}),
            ...(input.mailDsn?.ret !== undefined ? { ret: input.mailDsn.ret } : {}),
            recipients: input.recipients.map((r) => ({
              address: r.address,
              ...(r.dsn?.notify ? { notify: [...r.dsn.notify] } : {}),
              ...(r.dsn?.orcpt !== undefined ? { orcpt: r.dsn.orcpt } : {}),
            })),
          },
        }
      : {}),
    // the writer strips what a sealed entry's JSON must not hold (entry.ts sealedMetadata)
    sealed: config.quarantine.sealTo !== undefined,
    access: [],
    notice: rejected
      ? { status: 'not-needed', attempts: 0 }
      : atReceipt.kind === 'send'
        ? { status: 'pending', attempts: 0, nextAttemptAt: receivedAt.toISOString() }
        : { status: 'suppressed', reason: atReceipt.reason, attempts: 0 },
  };
}
