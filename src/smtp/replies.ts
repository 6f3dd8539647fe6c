// The reply catalogue: every decision, outcome and failure reaches the wire through here.
import { toAsciiDomain } from '../address/parse.js';
import type { RcptOutcome } from '../policy/decide.js';
import type { CommitOutcome } from '../transaction/commit.js';

export interface SmtpReply {
  readonly code: number;
  /** RFC 3463 enhanced status code, written at the start of the text. */
  readonly enhanced: string;
  readonly text: string;
}

export const reply = (code: number, enhanced: string, text: string): SmtpReply => ({ code, enhanced, text });

export const replies = {
  /** smtp-server writes its own `250 2.1.5 Accepted` for a null answer; this is that text. */
  recipientOk: () => reply(250, '2.1.5', 'Accepted'),
  userUnknown: (addr: string) => reply(550, '5.1.1', `<${addr}>: recipient address rejected: user unknown`),
  /** SPEC §4, an address rule `moved`: RFC 5321 §3.4's 551, naming where the mailbox went. */
  moved: (addr: string, to: string) => reply(551, '5.1.6', `<${addr}>: user has moved; please try <${to}>`),
  /** RFC 7293 §3: the RRVS date is before the present owner got the mailbox (or the domain). */
  mailboxOwnerChanged: (addr: string) => reply(550, '5.7.17', `<${addr}>: mailbox owner has changed`),
  domainOwnerChanged: (addr: string) => reply(550, '5.7.18', `<${addr}>: domain owner has changed`),
  /** RFC 7293 §2: an RRVS value that is not a date-time with an optional ;C or ;R. */
  badRrvs: () => reply(501, '5.5.4', 'invalid RRVS parameter: expected a date-time such as 2026-01-15T00:00:00Z'),
  /** SPEC §4, an address rule `defer` before its date. */
  paused: (addr: string) => reply(450, '4.2.1', `<${addr}>: mailbox temporarily unavailable`),
  relayDenied: (addr: string) => reply(554, '5.7.1', `<${addr}>: relay access denied`),
  routingTrick: (addr: string) =>
    reply(550, '5.7.1', `<${addr}>: source routing and percent hacks are not supported: relay access denied`),
  malformedAddress: (why: string) => reply(501, '5.1.3', `bad recipient address syntax: ${why}`),
  tooManyRecipients: () => reply(452, '4.5.3', 'too many recipients in this transaction'),
  /** SPEC §4: known and reject-after-data recipients never share a transaction (one ends 250, the other 550). */
  otherTransaction: () => reply(452, '4.5.3', 'send this recipient in another transaction'),
  /** After the final dot of a reject-after-data transaction: the sending server bounces, naming them. */
  rejectedAfterData: (addresses: readonly string[]) =>
    reply(550, '5.1.1', `${namedAddresses(addresses)}: recipient address rejected: user unknown`),
  harvestLimit: () => reply(421, '4.7.0', 'too many unknown recipients, closing connection'),
  harvestLimitIp: () => reply(421, '4.7.0', 'too many unknown recipients from your address, try again later'),
  tooManyConnections: () => reply(421, '4.7.0', 'too many connections, try again later'),
  tooManyConnectionsIp: () => reply(421, '4.7.0', 'too many connections from your address, try again later'),
  earlyTalker: () => reply(554, '5.5.1', 'protocol error: you talked before the greeting'),
  messageTooLarge: (limit: number) => reply(552, '5.3.4', `message exceeds the size limit of ${limit} bytes`),
  directoryUnavailable: () => reply(451, '4.3.0', 'recipient directory unavailable, try again later'),
  /** SPEC §4 `verify.upstream`: the upstream answered the probe 4xx or could not be asked; never a guess. */
  verifyUnavailable: () =>
    reply(451, '4.4.3', 'cannot verify the recipient with the mailbox server now, try again later'),
  storageFailure: (reason: string) => reply(451, '4.3.0', `local error in processing, try again later [${reason}]`),
  upstreamUnavailable: (reason: string) =>
    reply(451, '4.4.1', `mailbox server temporarily unavailable, try again later [${reason}]`),
  shuttingDown: () => reply(421, '4.3.2', 'server shutting down, try again later'),
  quarantineFull: () => reply(452, '4.3.1', 'insufficient system storage: quarantine full, try again later'),
  /** quarantine.sealTo: every sealed transaction's message is in memory, and quarantine.sealedSpoolMemory is taken. */
  sealedMemoryFull: () =>
    reply(
      452,
      '4.3.1',
      'insufficient system storage: too many sealed messages in memory, try again later [sealed-memory-full]',
    ),
  /** MAIL FROM while a data directory lacks room for one message of maxMessageSize (Postfix answers the same). */
  storageFull: () => reply(452, '4.3.1', 'insufficient system storage, try again later [storage-full]'),
  dataTimeout: () => reply(421, '4.4.2', 'message transfer took too long, closing connection'),
  sessionTimeout: () => reply(421, '4.4.2', 'session took too long, closing connection'),
  queued: (qid: string) => reply(250, '2.0.0', `Ok: queued as ${qid}`),
} as const;

/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; the addresses get what the rest leaves. */
const NAMED_ADDRESSES_MAX = 400;

/** `<a@x>, <b@x>`, and "and N more" for what does not fit: always at least the first address. */
function namedAddresses(addresses: readonly string[]): string {
  let shown = '';
  let n = 0;
  for (const a of addresses) {
    const next = n === 0 ? `<${a}>` : `${shown}, <${a}>`;
    if (n > 0 && Buffer.byteLength(next) > NAMED_ADDRESSES_MAX) break;
    shown = next;
    n++;
  }
  return n < addresses.length ? `${shown} and ${addresses.length - n} more` : shown;
}

/**
 * An address as a client may be sent it: without SMTPUTF8 (RFC 6531) a reply carries ASCII only, so an
 * internationalised domain goes as its A-label (`xn--…`). The local-part of a `moved` address is ASCII
 * (config/schema.ts refuses any other), so the whole address then is.
 */
export function addressForClient(address: string, smtputf8: boolean): string {
  const at = address.lastIndexOf('@');
  if (smtputf8 || at < 0 || /^[\x20-\x7e]*$/.test(address)) return address;
  return `${address.slice(0, at)}@${toAsciiDomain(address.slice(at + 1)) || address.slice(at + 1)}`;
}

/** `session.smtputf8`: the transaction's MAIL FROM carried SMTPUTF8, so UTF-8 may be sent back. */
export function replyForRcpt(outcome: RcptOutcome, session: { readonly smtputf8?: boolean } = {}): SmtpReply {
  switch (outcome.kind) {
    case 'accept':
    case 'quarantine':
    case 'observe':
    case 'reject-after-data':
      return replies.recipientOk();
    case 'reject':
      return replies.userUnknown(outcome.recipient.normalized);
    case 'moved':
      return replies.moved(outcome.recipient.normalized, addressForClient(outcome.to, session.smtputf8 === true));
    case 'owner-changed':
      return outcome.scope === 'mailbox'
        ? replies.mailboxOwnerChanged(outcome.recipient.normalized)
        : replies.domainOwnerChanged(outcome.recipient.normalized);
    case 'relay-denied':
      return outcome.reason === 'not-served' || outcome.reason === 'literal'
        ? replies.relayDenied(outcome.raw)
        : replies.routingTrick(outcome.raw);
    case 'invalid':
      return replies.malformedAddress(outcome.why);
    case 'limited':
      switch (outcome.limit) {
        case 'max-recipients':
          return replies.tooManyRecipients();
        case 'mixed-transaction':
          return replies.otherTransaction();
        case 'max-unknown-recipients':
          return replies.harvestLimit();
        case 'max-unknown-recipients-per-ip':
          return replies.harvestLimitIp();
      }
    case 'deferred':
      switch (outcome.reason) {
        case 'shutting-down':
          return replies.shuttingDown();
        case 'quarantine-full':
          return replies.quarantineFull();
        case 'address-paused':
          return replies.paused(outcome.address ?? '');
        case 'directory-unavailable':
          return replies.directoryUnavailable();
        case 'verify-upstream-unavailable':
          return replies.verifyUnavailable();
      }
  }
}

/** The stable code a refused RCPT is logged with (README, Logs); none for the decisions that accept. */
export function reasonForRcpt(outcome: RcptOutcome): string | undefined {
  // a `from` binding the sender missed is the reason, whatever the domain's mode then answered
  if ('senderNotAllowed' in outcome && outcome.senderNotAllowed === true) return 'sender-not-allowed';
  switch (outcome.kind) {
    case 'accept':
    case 'quarantine':
    case 'observe':
    case 'reject-after-data':
      return undefined;
    case 'reject':
      if (outcome.retired === true) return 'address-retired';
      return outcome.nullSender === true ? 'null-sender-unknown' : 'user-unknown';
    case 'moved':
      return 'address-moved';
    case 'owner-changed':
      return outcome.scope === 'mailbox' ? 'rrvs-mailbox-owner-changed' : 'rrvs-domain-owner-changed';
    case 'relay-denied':
      return RELAY_REASON[outcome.reason];
    case 'invalid':
      return 'malformed-address';
    case 'limited':
      return outcome.limit;
    case 'deferred':
      return outcome.reason;
  }
}

const RELAY_REASON: Record<Extract<RcptOutcome, { kind: 'relay-denied' }>['reason'], string> = {
  'not-served': 'relay-denied',
  literal: 'address-literal',
  '%': 'percent-hack',
  '!': 'bang-path',
  'quoted-at': 'quoted-at',
};

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}$/;

export function replyForCommit(outcome: CommitOutcome): SmtpReply {
  switch (outcome.kind) {
    case 'stored':
      return replies.queued(outcome.qid);
    case 'temporary':
      return outcome.source === 'upstream'
        ? replies.upstreamUnavailable(outcome.reason)
        : replies.storageFailure(outcome.reason);
    case 'permanent': {
      // the upstream's own refusal, passed on with its enhanced code so the sender's bounce says why
      const up = outcome.upstream;
      const code = up.code === 554 ? 554 : 550;
      const enhanced = up.enhanced && ENHANCED.test(up.enhanced) && up.enhanced.startsWith('5') ? up.enhanced : '5.0.0';
      return reply(code, enhanced, `mailbox server refused the message: ${wireText(up.text).slice(0, 200)}`);
    }
  }
}

/**
 * MAIL FROM while storage fails (src/storage/health.ts): refused before the client sends its message,
 * not with a 451 after it did. A full disk is RFC 3463's 4.3.1, a directory we cannot write a local error.
 */
export function replyForStorage(reason: 'storage-full' | 'storage-not-writable'): SmtpReply {
  return reason === 'storage-full' ? replies.storageFull() : replies.storageFailure(reason);
}

/** A thrown thing of unknown origin is never a permanent failure: the sender retries. */
export function replyForFailure(_err: unknown): SmtpReply {
  return replies.storageFailure('internal-error');
}

/** Text from elsewhere (an upstream's reply) made safe for one SMTP reply line. */
export function wireText(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
}

export function formatReply(r: SmtpReply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}

/** What an smtp-server callback takes: an Error with the code, the text carrying the enhanced code. */
export class ReplyError extends Error {
  readonly responseCode: number;
  constructor(r: SmtpReply) {
    // a reply, not a fault: nobody reads its stack, and capturing one for every 550 of a harvest run
    // was a measurable share of the reject path's CPU
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${r.enhanced} ${r.text}`);
    Error.stackTraceLimit = limit;
    this.responseCode = r.code;
  }
}
