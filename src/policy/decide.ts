// THE recipient decision (SPEC §4). Pure and total: every input gets exactly one outcome.
import type { MailAddress, ParsedRecipient, RoutingVia } from '../address/parse.js';
import type { DirectoryAnswer } from '../directory/directory.js';

export type Decision =
  | { readonly kind: 'accept'; readonly recipient: MailAddress; readonly mailbox: string }
  | { readonly kind: 'reject'; readonly recipient: MailAddress }
  | { readonly kind: 'quarantine'; readonly recipient: MailAddress }
  | { readonly kind: 'observe'; readonly recipient: MailAddress; readonly deliverTo: string }
  | { readonly kind: 'relay-denied'; readonly raw: string; readonly reason: 'not-served' | RoutingVia }
  | { readonly kind: 'invalid'; readonly raw: string; readonly why: string };

export type RcptOutcome =
  | Decision
  | {
      readonly kind: 'limited';
      readonly limit: 'max-recipients' | 'max-unknown-recipients' | 'max-unknown-recipients-per-ip';
    }
  | { readonly kind: 'deferred'; readonly reason: 'directory-unavailable' | 'shutting-down' | 'quarantine-full' };

export type DecisionKind = Decision['kind'];

export interface RcptContext {
  readonly recipient: ParsedRecipient;
  /** The directory's answer for a mailbox; null when the address never reached the lookup. */
  readonly answer: DirectoryAnswer | null;
  readonly counts: {
    /** Recipients already accepted in this transaction. */
    readonly rcptInTransaction: number;
    /** Unknown recipients already counted in this session (see countsAsUnknown). */
    readonly unknownInSession: number;
    /** Unknown recipients already counted for this client IP within the hour (see countsAsUnknown). */
    readonly unknownForIp: number;
  };
  /** 0 turns the two unknown-recipient limits off. */
  readonly limits: {
    readonly maxRecipients: number;
    readonly maxUnknownRecipients: number;
    readonly maxUnknownRecipientsPerIp: number;
  };
  readonly shuttingDown: boolean;
  /** The quarantine has reached quarantine.maxSize: quarantine decisions wait (4xx) until room is made. */
  readonly quarantineFull?: boolean;
}

/** The limits of RcptContext from the `server` section of the config. */
export function rcptLimits(server: {
  readonly maxRecipients: number;
  readonly maxUnknownRecipients: number;
  readonly maxUnknownRecipientsPerIp: number;
}): RcptContext['limits'] {
  return {
    maxRecipients: server.maxRecipients,
    maxUnknownRecipients: server.maxUnknownRecipients,
    maxUnknownRecipientsPerIp: server.maxUnknownRecipientsPerIp,
  };
}

export function decideRecipient(ctx: RcptContext): RcptOutcome {
  const { recipient, answer, counts, limits } = ctx;
  if (ctx.shuttingDown) return { kind: 'deferred', reason: 'shutting-down' };
  if (recipient.kind === 'malformed') return { kind: 'invalid', raw: recipient.raw, why: recipient.why };
  // a routing trick is refused whatever the domain: it names a mailbox elsewhere, never ours
  if (recipient.kind === 'routing-trick') return { kind: 'relay-denied', raw: recipient.raw, reason: recipient.via };
  if (recipient.kind === 'mailbox' && (answer === null || answer.kind === 'not-served')) {
    return { kind: 'relay-denied', raw: recipient.address.normalized, reason: 'not-served' };
  }
  if (counts.rcptInTransaction >= limits.maxRecipients) return { kind: 'limited', limit: 'max-recipients' };
  if (recipient.kind === 'bare-postmaster' || answer === null) {
    // the caller resolves a bare postmaster to the primary domain's postmaster before asking
    return { kind: 'invalid', raw: 'postmaster', why: 'postmaster not resolved' };
  }
  const address = recipient.address;
  switch (answer.kind) {
    case 'known':
      return { kind: 'accept', recipient: address, mailbox: answer.mailbox };
    case 'unavailable':
      return { kind: 'deferred', reason: 'directory-unavailable' };
    case 'not-served':
      return { kind: 'relay-denied', raw: address.normalized, reason: 'not-served' };
    case 'unknown':
      break;
  }
  // SPEC §3: the harvest limits count every unknown-recipient answer but observe's, which exists to
  // watch traffic without changing what senders see
  if (answer.mode !== 'observe') {
    if (limits.maxUnknownRecipients > 0 && counts.unknownInSession >= limits.maxUnknownRecipients)
      return { kind: 'limited', limit: 'max-unknown-recipients' };
    if (limits.maxUnknownRecipientsPerIp > 0 && counts.unknownForIp >= limits.maxUnknownRecipientsPerIp)
      return { kind: 'limited', limit: 'max-unknown-recipients-per-ip' };
  }
  switch (answer.mode) {
    case 'reject':
      return { kind: 'reject', recipient: address };
    case 'quarantine':
      return ctx.quarantineFull === true
        ? { kind: 'deferred', reason: 'quarantine-full' }
        : { kind: 'quarantine', recipient: address };
    case 'observe':
      // the schema guarantees an observe mailbox for observe mode; without one, refusing is the safe side
      return answer.observeMailbox
        ? { kind: 'observe', recipient: address, deliverTo: answer.observeMailbox }
        : { kind: 'reject', recipient: address };
  }
}

/** Whether an outcome counts toward maxUnknownRecipients and maxUnknownRecipientsPerIp (observe does not). */
export function countsAsUnknown(outcome: RcptOutcome): boolean {
  return outcome.kind === 'reject' || outcome.kind === 'quarantine';
}
