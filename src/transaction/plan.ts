// Who gets what, from the recipients a transaction accepted: the one place the delivered, observed
// and quarantined lists are made, for the commit and for the `message` event alike. Pure.
import type { DeliveryRecipient } from '../delivery/delivery.js';

export type AcceptedRecipient =
  | { readonly kind: 'deliver'; readonly delivery: DeliveryRecipient }
  /** An unknown address in observe mode: delivered to the observe mailbox, reported under its own address. */
  | { readonly kind: 'observe'; readonly address: string; readonly delivery: DeliveryRecipient }
  | { readonly kind: 'quarantine'; readonly address: string };

export interface RecipientPlan {
  /** What the delivery is asked to do: one per address, known and observed. */
  readonly deliveries: readonly DeliveryRecipient[];
  /** Known recipients, as accepted. */
  readonly delivered: readonly string[];
  /** Unknown recipients of observe mode. */
  readonly observed: readonly string[];
  /** Unknown recipients of quarantine mode: the quarantine entry is for them. */
  readonly quarantined: readonly string[];
  /** Every envelope recipient, in order, for the trace header. */
  readonly envelope: readonly string[];
}

export function planRecipients(accepted: readonly AcceptedRecipient[]): RecipientPlan {
  const seen = new Set<string>();
  const deliveries: DeliveryRecipient[] = [];
  const delivered: string[] = [];
  const observed: string[] = [];
  const quarantined: string[] = [];
  const envelope: string[] = [];
  for (const a of accepted) {
    if (a.kind === 'quarantine') {
      quarantined.push(a.address);
      envelope.push(a.address);
      continue;
    }
    if (a.kind === 'deliver') delivered.push(a.delivery.address);
    else observed.push(a.address);
    envelope.push(a.kind === 'deliver' ? a.delivery.address : a.address);
    if (!seen.has(a.delivery.address)) {
      seen.add(a.delivery.address);
      deliveries.push(a.delivery);
    }
  }
  return { deliveries, delivered, observed, quarantined, envelope };
}
