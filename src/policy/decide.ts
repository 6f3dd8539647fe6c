// THE recipient decision (SPEC §4). Pure and total: every input gets exactly one outcome.
import type { MailAddress, ParsedRecipient, RoutingVia } from '../address/parse.js';
import type { DirectoryAnswer, UnknownRecipientMode } from '../directory/directory.js';

export type Decision =
  | { readonly kind: 'accept'; readonly recipient: MailAddress; readonly mailbox: string }
  /**
   * `nullSender`: a bounce to an address that never existed is backscatter, refused in every mode but
   * observe. `retired`: an address rule `reject`. `senderNotAllowed`: a `from` binding the sender missed.
   */
  | {
      readonly kind: 'reject';
      readonly recipient: MailAddress;
      readonly nullSender?: true;
      readonly retired?: true;
      readonly senderNotAllowed?: true;
    }
  /** RFC 7293: the mailbox (or its domain) changed owner since the sender's RRVS date: 550 5.7.17 / 5.7.18. */
  | { readonly kind: 'owner-changed'; readonly recipient: MailAddress; readonly scope: 'mailbox' | 'domain' }
  /** An address rule `moved`: 551 5.1.6 naming the new address. */
  | { readonly kind: 'moved'; readonly recipient: MailAddress; readonly to: string }
  /** 250 at RCPT, 550 5.1.1 after the final dot, a headers-only record kept (SPEC §4). */
  | { readonly kind: 'reject-after-data'; readonly recipient: MailAddress; readonly senderNotAllowed?: true }
  | { readonly kind: 'quarantine'; readonly recipient: MailAddress; readonly senderNotAllowed?: true }
  | {
      readonly kind: 'observe';
      readonly recipient: MailAddress;
      readonly deliverTo: string;
      readonly senderNotAllowed?: true;
    }
  | { readonly kind: 'relay-denied'; readonly raw: string; readonly reason: 'not-served' | RoutingVia }
  | { readonly kind: 'invalid'; readonly raw: string; readonly why: string };

export type RcptOutcome =
  | Decision
  | {
      readonly kind: 'limited';
      /** `mixed-transaction`: a reject-after-data recipient among accepted ones, or the other way round. */
      readonly limit:
        'max-recipients' | 'max-unknown-recipients' | 'max-unknown-recipients-per-ip' | 'mixed-transaction';
    }
  | {
      readonly kind: 'deferred';
      /**
       * `address-paused`: an address rule `defer` before its date (450 4.2.1). `verify-upstream-unavailable`:
       * the upstream answered the probe 4xx or could not be asked (451 4.4.3).
       */
      readonly reason:
        | 'directory-unavailable'
        | 'shutting-down'
        | 'quarantine-full'
        | 'address-paused'
        | 'verify-upstream-unavailable';
      /** The address a paused rule answers for, named in its 450. */
      readonly address?: string;
      /**
       * `verify-upstream-unavailable`: the domain's mode the address would have met; it counts toward the
       * harvest limits as an unknown recipient does (observe aside).
       */
      readonly unknownMode?: UnknownRecipientMode;
    };

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
  /** The transaction's envelope sender is `<>`. */
  readonly nullSender?: boolean;
  /** The envelope sender's domain (lower-case A-label), for an address rule's `from` binding. */
  readonly senderDomain?: string;
  /** Now, for an address rule's `defer … until`. */
  readonly nowMs?: number;
  /** RFC 7293: the RCPT's RRVS date, when the client gave one. */
  readonly rrvsSinceMs?: number | undefined;
  /** RFC 7293: since when the present owners hold the address and its domain (config ownerSince). */
  readonly ownership?: { readonly mailboxMs?: number; readonly domainMs?: number };
  /**
   * What the recipients accepted so far make of the transaction: `accepting` (it ends in 250: known,
   * quarantined, observed) or `rejecting` (reject-after-data: it ends in 550); null before the first.
   */
  readonly transactionKind?: TransactionKind | null;
  /** SPEC §4 `verify.upstream`: the upstream's word on a local-part the directory does not know, when asked. */
  readonly upstream?: UpstreamAnswer | undefined;
}

/** What the upstream mailbox server said of a local-part (a probe's answer, or the cached one). */
export type UpstreamAnswer =
  | { readonly kind: 'exists'; readonly mailbox: string; readonly source: 'upstream' | 'cache' }
  | { readonly kind: 'no-such-user'; readonly source: 'upstream' | 'cache' }
  /**
   * 4xx, a timeout, no connection: never a guess either way. `notAsked`: answered without a probe while
   * the upstream is left alone after failing (src/verify/verifier.ts).
   */
  | { readonly kind: 'unavailable'; readonly detail: string; readonly notAsked?: true }
  /**
   * Only a probe could tell and none was sent: the IP or session is at a harvest limit (probes under way
   * counted), or, in observe mode, the IP's probe allowance is spent. Never the mode outside observe.
   */
  | { readonly kind: 'not-asked'; readonly why: NotAskedReason; readonly detail: string };

/** Why a RCPT that needed the upstream's word did not get a probe (src/policy/probe-gate.ts). */
export type NotAskedReason = 'max-unknown-recipients' | 'max-unknown-recipients-per-ip' | 'observe-allowance';

export type TransactionKind = 'accepting' | 'rejecting';

/** The kind of transaction an accepted recipient belongs to; null for a refusal. */
export function transactionKindOf(outcome: RcptOutcome): TransactionKind | null {
  switch (outcome.kind) {
    case 'accept':
    case 'quarantine':
    case 'observe':
      return 'accepting';
    case 'reject-after-data':
      return 'rejecting';
    default:
      return null;
  }
}

const MIXED: RcptOutcome = { kind: 'limited', limit: 'mixed-transaction' };

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
  const kind = ctx.transactionKind ?? null;
  /** A known mailbox: accepted, unless RRVS says its owner changed (SPEC §4; postmaster is exempt). */
  const known = (mailbox: string): RcptOutcome => {
    if (kind === 'rejecting') return MIXED;
    const since = ctx.rrvsSinceMs;
    const { mailboxMs, domainMs } = ctx.ownership ?? {};
    // an address without ownerSince uses its domain's; with neither, the check passes
    if (since !== undefined && mailboxMs !== undefined) {
      if (mailboxMs > since) return { kind: 'owner-changed', recipient: address, scope: 'mailbox' };
    } else if (since !== undefined && domainMs !== undefined && domainMs > since) {
      return { kind: 'owner-changed', recipient: address, scope: 'domain' };
    }
    return { kind: 'accept', recipient: address, mailbox };
  };
  /** SPEC §3: the harvest limits count every unknown-recipient answer but observe's. */
  const overLimit = (mode: UnknownRecipientMode): RcptOutcome | null => {
    if (mode === 'observe') return null;
    if (limits.maxUnknownRecipients > 0 && counts.unknownInSession >= limits.maxUnknownRecipients)
      return { kind: 'limited', limit: 'max-unknown-recipients' };
    if (limits.maxUnknownRecipientsPerIp > 0 && counts.unknownForIp >= limits.maxUnknownRecipientsPerIp)
      return { kind: 'limited', limit: 'max-unknown-recipients-per-ip' };
    return null;
  };
  let unknown: { readonly mode: UnknownRecipientMode; readonly observeMailbox: string | undefined } | null = null;
  let senderNotAllowed = false;
  if (answer.kind === 'rule') {
    const { rule } = answer;
    switch (rule.action) {
      case 'reject':
        return { kind: 'reject', recipient: address, retired: true };
      case 'moved':
        return { kind: 'moved', recipient: address, to: rule.to ?? '' };
      case 'defer':
        // SPEC §4: a pause until the date; from then on the address is unknown
        if ((ctx.nowMs ?? Date.now()) < (rule.untilMs ?? 0))
          return { kind: 'deferred', reason: 'address-paused', address: address.normalized };
        unknown = answer;
        break;
      case 'quarantine':
        // caught even in a reject domain: quarantine mode for this address
        unknown = { mode: 'quarantine', observeMailbox: undefined };
        break;
      case 'accept': {
        // the null sender passes a binding: a bounce must reach the address that sent the mail
        const allowed =
          rule.allowsSender === undefined || ctx.nullSender === true || rule.allowsSender(ctx.senderDomain ?? '');
        if (allowed) return known(answer.mailbox);
        unknown = answer;
        senderNotAllowed = true;
        break;
      }
    }
  }
  if (unknown === null) {
    switch (answer.kind) {
      case 'known':
        // SPEC §4: the first accepted recipient sets the kind; the other kind is sent in another transaction
        if (answer.matchedBy === 'postmaster') {
          return kind === 'rejecting' ? MIXED : { kind: 'accept', recipient: address, mailbox: answer.mailbox };
        }
        return known(answer.mailbox);
      case 'unavailable':
        return { kind: 'deferred', reason: 'directory-unavailable' };
      case 'not-served':
        return { kind: 'relay-denied', raw: address.normalized, reason: 'not-served' };
      case 'unknown': {
        // SPEC §4: after the listed recipients, globs and file, before the mode: the upstream's word
        const up = ctx.upstream;
        if (up?.kind === 'exists') return known(up.mailbox);
        // the directory does not know it and the upstream did not say: never the mode, which would guess
        // "no such user" for a mailbox that may exist. Observe is the exception: its mail reaches the
        // observe mailbox either way, and it has no harvest limits
        if (up?.kind === 'not-asked' && answer.mode !== 'observe')
          return up.why === 'observe-allowance'
            ? { kind: 'deferred', reason: 'verify-upstream-unavailable', unknownMode: answer.mode }
            : { kind: 'limited', limit: up.why };
        if (up?.kind === 'unavailable')
          // still an address the directory does not know: a harvest against a failing upstream is counted
          return (
            overLimit(answer.mode) ?? {
              kind: 'deferred',
              reason: 'verify-upstream-unavailable',
              unknownMode: answer.mode,
            }
          );
        unknown = answer;
        break;
      }
      case 'rule':
        unknown = answer;
        break;
    }
  }
  const { mode, observeMailbox } = unknown;
  // a null sender to an unknown address is refused at RCPT whatever the mode (observe aside)
  const refusedNull = ctx.nullSender === true && mode !== 'observe';
  // the other kind of recipient counts toward nothing: it is only sent again, in its own transaction
  const wouldBe: TransactionKind | null =
    refusedNull || mode === 'reject' ? null : mode === 'reject-after-data' ? 'rejecting' : 'accepting';
  if (kind !== null && wouldBe !== null && wouldBe !== kind) return MIXED;
  // observe is left out: it exists to watch traffic without changing what senders see
  const limited = overLimit(mode);
  if (limited) return limited;
  // SPEC §4: a bounce to an address that never existed is backscatter: neither kept nor answered
  if (refusedNull) return { kind: 'reject', recipient: address, nullSender: true };
  // SPEC §4: a sender a `from` binding does not allow gets the unknown treatment, and the log says why
  const why = senderNotAllowed ? { senderNotAllowed: true as const } : {};
  switch (mode) {
    case 'reject':
      return { kind: 'reject', recipient: address, ...why };
    case 'reject-after-data':
      return { kind: 'reject-after-data', recipient: address, ...why };
    case 'quarantine':
      return ctx.quarantineFull === true
        ? { kind: 'deferred', reason: 'quarantine-full' }
        : { kind: 'quarantine', recipient: address, ...why };
    case 'observe':
      // the schema guarantees an observe mailbox for observe mode; without one, refusing is the safe side
      return observeMailbox
        ? { kind: 'observe', recipient: address, deliverTo: observeMailbox, ...why }
        : { kind: 'reject', recipient: address, ...why };
  }
}

/**
 * Whether an outcome counts toward maxUnknownRecipients and maxUnknownRecipientsPerIp (observe does not).
 * A 451 4.4.3 for an address only the upstream could vouch for counts too: unverified, it is still one
 * the directory does not know, and a harvest must not go unlimited because the upstream fails.
 */
export function countsAsUnknown(outcome: RcptOutcome): boolean {
  if (outcome.kind === 'deferred')
    return outcome.reason === 'verify-upstream-unavailable' && outcome.unknownMode !== 'observe';
  return outcome.kind === 'reject' || outcome.kind === 'reject-after-data' || outcome.kind === 'quarantine';
}
