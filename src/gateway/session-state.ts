// What the gateway remembers per SMTP session and per transaction.
import type { DeliveryRecipient } from '../delivery/delivery.js';

export type AcceptedRecipient =
  | { readonly kind: 'deliver'; readonly delivery: DeliveryRecipient }
  | { readonly kind: 'observe'; readonly address: string; readonly delivery: DeliveryRecipient }
  | { readonly kind: 'quarantine'; readonly address: string };

export interface Transaction {
  readonly from: string;
  /** Keyed by the address as smtp-server reports it, lower-cased, to match its envelope later. */
  readonly recipients: Map<string, AcceptedRecipient>;
}

export interface SessionState {
  readonly sid: string;
  readonly ip: string;
  readonly connectedAt: number;
  /** Counted against the connection limits (refused sessions are not). */
  counted: boolean;
  unknownRecipients: number;
  tx: Transaction | null;
}

export const envelopeKey = (address: string): string => address.toLowerCase();
