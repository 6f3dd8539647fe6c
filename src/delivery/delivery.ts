// Handing a message for known recipients on. Never throws for an answer; throws only for bugs.
import type { SpooledMessage } from '../message/spool.js';

export interface DeliveryRecipient {
  /** The envelope address, normalized (`bob+x@example.test`). */
  readonly address: string;
  /** The mailbox it belongs to (`bob@example.test`), for local delivery. */
  readonly mailbox: string;
  /**
   * Observe mode: the unknown address the sender used, which `address` (the observe mailbox) stands
   * for; the copy records it as `X-Original-To:` (original-to.ts).
   */
  readonly originalRecipient?: string | undefined;
}

export interface DeliveryRequest {
  readonly qid: string;
  readonly mailFrom: string;
  readonly recipients: readonly DeliveryRecipient[];
  readonly message: SpooledMessage;
}

export interface UpstreamReply {
  readonly code: number;
  readonly enhanced?: string | undefined;
  readonly text: string;
}

export type DeliveryOutcome =
  /** `refused`: recipients the upstream refused permanently while it took the message for the others. */
  | { readonly kind: 'delivered'; readonly detail: string; readonly refused?: readonly string[] }
  /** `reason`: a stable code (src/delivery/reason.ts); `detail`: the error as it came. */
  | {
      readonly kind: 'temporary';
      readonly source: 'upstream' | 'storage';
      readonly reason: string;
      readonly detail: string;
    }
  | { readonly kind: 'permanent'; readonly upstream: UpstreamReply };

export interface Delivery {
  deliver(req: DeliveryRequest): Promise<DeliveryOutcome>;
  /** Removes what a crashed run of this host left half-delivered (called at start, before serving). */
  cleanTemp?(): Promise<number>;
  close(): Promise<void>;
}
