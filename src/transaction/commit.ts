// The DATA pipeline: prepare the quarantine entry → deliver to known recipients → commit the entry.
// 250 must mean durable and 451 must mean nothing kept; this order keeps both promises.
import { errorCodeOrText } from '../observability/error-text.js';
import type { Delivery, DeliveryRecipient, UpstreamReply } from '../delivery/delivery.js';
import { storageReason } from '../delivery/reason.js';
import type { SpooledMessage } from '../message/spool.js';
import type { QuarantineEntry } from '../quarantine/entry.js';
import type { PreparedEntry, QuarantineStore } from '../quarantine/store.js';

export type CommitOutcome =
  | {
      readonly kind: 'stored';
      readonly qid: string;
      /** Refused permanently by the upstream although the others took it; logged, see README. */
      readonly refused: readonly string[];
    }
  | {
      readonly kind: 'temporary';
      readonly source: 'storage' | 'upstream';
      readonly reason: string;
      readonly detail: string;
    }
  | { readonly kind: 'permanent'; readonly upstream: UpstreamReply };

export interface AcceptedTransaction {
  readonly qid: string;
  readonly mailFrom: string;
  /** Known and observed recipients, with the address to hand the message to. */
  readonly deliveries: readonly DeliveryRecipient[];
  /** Present when the transaction has unknown recipients in quarantine mode. */
  readonly quarantineEntry: QuarantineEntry | null;
  readonly storeBody: boolean;
}

export async function commitTransaction(
  tx: AcceptedTransaction,
  message: SpooledMessage,
  deps: { readonly delivery: Delivery; readonly quarantine: QuarantineStore },
): Promise<CommitOutcome> {
  let prepared: PreparedEntry | null = null;
  if (tx.quarantineEntry) {
    try {
      prepared = await deps.quarantine.prepare(tx.quarantineEntry, message, tx.storeBody);
    } catch (err) {
      return { kind: 'temporary', source: 'storage', reason: storageReason(err), detail: describe(err) };
    }
  }
  let refused: readonly string[] = [];
  if (tx.deliveries.length > 0) {
    const outcome = await deps.delivery.deliver({
      qid: tx.qid,
      mailFrom: tx.mailFrom,
      recipients: tx.deliveries,
      message,
    });
    if (outcome.kind === 'delivered') refused = outcome.refused ?? [];
    else {
      await prepared?.abort();
      return outcome.kind === 'permanent'
        ? outcome
        : { kind: 'temporary', source: outcome.source, reason: outcome.reason, detail: outcome.detail };
    }
  }
  if (prepared) {
    try {
      await prepared.commit();
    } catch (err) {
      // the known recipients already have it; a retry by the sender duplicates it for them, loses nothing
      return { kind: 'temporary', source: 'storage', reason: storageReason(err), detail: describe(err) };
    }
  }
  return { kind: 'stored', qid: tx.qid, refused };
}

/** For the log only (the 451 carries the reason, never a path): the errno and the file it failed on. */
function describe(err: unknown): string {
  const file = (err as NodeJS.ErrnoException | null)?.path;
  return typeof file === 'string' ? `${errorCodeOrText(err)} ${file}` : errorCodeOrText(err);
}
