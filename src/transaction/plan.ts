// Who gets what, from the recipients a transaction accepted: the one place the delivered, observed
// and quarantined lists are made, for the commit and for the `message` event alike. Pure.
import type { DeliveryRecipient } from '../delivery/delivery.js';
import type { RcptDsn } from '../message/dsn-params.js';

export type AcceptedRecipient =
  | { readonly kind: 'deliver'; readonly delivery: DeliveryRecipient }
  /** An unknown address in observe mode: delivered to the observe mailbox, reported under its own address. */
  | { readonly kind: 'observe'; readonly address: string; readonly delivery: DeliveryRecipient }
  /** `dsn`: what the client asked of a failure report for this recipient (RFC 3461), kept for the notice. */
  | { readonly kind: 'quarantine'; readonly address: string; readonly dsn?: RcptDsn | undefined }
  | { readonly kind: 'reject-after-data'; readonly address: string; readonly dsn?: RcptDsn | undefined };

/** An unknown recipient the entry is kept for, with its DSN parameters when the client gave any. */
export interface EntryRecipient {
  readonly address: string;
  readonly dsn?: RcptDsn | undefined;
}

export interface RecipientPlan {
  /** What the delivery is asked to do: one per address, known and observed (one per observed address, each with its original recipient). */
  readonly deliveries: readonly DeliveryRecipient[];
  /** Known recipients, as accepted. */
  readonly delivered: readonly string[];
  /** Unknown recipients of observe mode. */
  readonly observed: readonly string[];
  /** Unknown recipients of quarantine mode: the quarantine entry is for them. */
  readonly quarantined: readonly string[];
  /** Unknown recipients of reject-after-data mode: 550 after the final dot, a headers-only record. */
  readonly rejected: readonly string[];
  /** The recipients of the entry (quarantined or rejected), with their DSN parameters. */
  readonly entryRecipients: readonly EntryRecipient[];
  /** Every envelope recipient, in order, for the trace header. */
  readonly envelope: readonly string[];
}

export function planRecipients(accepted: readonly AcceptedRecipient[]): RecipientPlan {
  const seen = new Set<string>();
  const deliveries: DeliveryRecipient[] = [];
  const delivered: string[] = [];
  const observed: string[] = [];
  const quarantined: string[] = [];
  const rejected: string[] = [];
  const entryRecipients: EntryRecipient[] = [];
  const envelope: string[] = [];
  for (const a of accepted) {
    if (a.kind === 'quarantine' || a.kind === 'reject-after-data') {
      (a.kind === 'quarantine' ? quarantined : rejected).push(a.address);
      entryRecipients.push({ address: a.address, ...(a.dsn ? { dsn: a.dsn } : {}) });
      envelope.push(a.address);
      continue;
    }
    if (a.kind === 'deliver') delivered.push(a.delivery.address);
    else observed.push(a.address);
    envelope.push(a.kind === 'deliver' ? a.delivery.address : a.address);
    // an observed address keeps a delivery of its own even when it shares the observe mailbox with
    // others: the copy records every address it stands for (X-Original-To)
    const key = `${a.delivery.address}\n${a.delivery.originalRecipient ?? ''}`;
    if (!seen.has(key)) {
      seen.add(key);
      deliveries.push(a.delivery);
    }
  }
  return { deliveries, delivered, observed, quarantined, rejected, entryRecipients, envelope };
}
