// Whether a quarantined message may get a notice: RFC 3834 §2 (who must never get an automatic
// reply), §3.1 (what marks a message as automatic or bulk), the sender-authentication gate and the
// throttle. Pure: every input is a value, so each rule is one table row in the unit tests.

import { isMailboxLocalPart } from '../address/parse.js';

export type SuppressionReason =
  | 'notices-disabled'
  | 'null-sender'
  | 'invalid-sender'
  | 'mailer-daemon-sender'
  | 'postmaster-sender'
  | 'owner-sender'
  | 'request-sender'
  | 'noreply-sender'
  | 'auto-submitted'
  | 'precedence'
  | 'list-id'
  | 'list-unsubscribe'
  | 'x-auto-response-suppress'
  | 'sender-auth-failed'
  | 'per-sender-interval'
  | 'hourly-cap';

export type NoticeVerdict =
  { readonly kind: 'send' } | { readonly kind: 'suppress'; readonly reason: SuppressionReason };

export interface NoticeHeaders {
  readonly autoSubmitted?: string | null | undefined;
  readonly precedence?: string | null | undefined;
  readonly listId?: string | null | undefined;
  readonly listUnsubscribe?: string | null | undefined;
  readonly xAutoResponseSuppress?: string | null | undefined;
}

export interface NoticeAuth {
  readonly spf: string;
  readonly dmarc: string;
  readonly aligned?: boolean | undefined;
}

export interface NoticePolicy {
  readonly enabled: boolean;
  readonly format: 'dsn' | 'plain';
  readonly requireSenderAuth: 'spf' | 'dmarc' | 'none';
  readonly perSenderIntervalMs: number;
  /** 0 turns the cap off, as with the other limits of the configuration. */
  readonly maxPerHour: number;
}

export interface NoticeHistory {
  /** For each unknown recipient (same order), when this sender last got a notice for it; null if never. */
  readonly lastSentMs: readonly (number | null)[];
  readonly sentInLastHour: number;
}

export interface NoticeCandidate {
  /** The envelope sender; '' for `<>`. */
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  readonly headers: NoticeHeaders;
}

const SEND: NoticeVerdict = { kind: 'send' };
const suppress = (reason: SuppressionReason): NoticeVerdict => ({ kind: 'suppress', reason });

/** RFC 3834 §2: addresses that belong to software, lists or administrators, never to a person waiting for a reply. */
export function judgeSender(mailFrom: string): NoticeVerdict {
  if (mailFrom.trim() === '') return suppress('null-sender');
  const at = mailFrom.lastIndexOf('@');
  if (at <= 0 || at === mailFrom.length - 1) return suppress('invalid-sender');
  // `root,admin,x@attacker.test` is not one mailbox: a notice to it would reach whatever a parser makes of it
  if (!isMailboxLocalPart(mailFrom.slice(0, at))) return suppress('invalid-sender');
  // a subaddress does not change who reads the mailbox: noreply+bounce@ is still noreply@
  const local = mailFrom.slice(0, at).replace(/^"|"$/g, '').toLowerCase().split('+')[0] ?? '';
  if (local === 'mailer-daemon') return suppress('mailer-daemon-sender');
  if (local === 'postmaster') return suppress('postmaster-sender');
  if (local.startsWith('owner-')) return suppress('owner-sender');
  if (local.endsWith('-request')) return suppress('request-sender');
  if (/^(no-?reply|do-?not-?reply)$/.test(local)) return suppress('noreply-sender');
  return SEND;
}

/** A header value without RFC 5322 comments and parameters, lower-cased: `Auto-Generated; x=1 (c)` → `auto-generated`. */
function token(value: string): string {
  return (
    value
      .replace(/\([^)]*\)/g, ' ')
      .split(';')[0]
      ?.trim()
      .toLowerCase() ?? ''
  );
}

const present = (v: string | null | undefined): v is string => typeof v === 'string';

/**
 * X-Auto-Response-Suppress ([MS-OXCMAIL] §2.2.3.2.14) is a comma list of None, All, DR, NDR, RN,
 * NRN, OOF, AutoReply. `All` and `AutoReply` ask for no automatic reply of our kind; a notice in DSN
 * form is also a non-delivery report, so `NDR` counts too there. OOF covers only out-of-office replies.
 */
export function suppressesAutoReply(value: string, format: 'dsn' | 'plain'): boolean {
  const words = value
    .split(/[,\s]+/)
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
  return words.some((w) => w === 'all' || w === 'autoreply' || (format === 'dsn' && w === 'ndr'));
}

/** RFC 3834 §3.1: messages that are themselves automatic, bulk or from a list get no reply. */
export function judgeHeaders(h: NoticeHeaders, format: 'dsn' | 'plain'): NoticeVerdict {
  // an empty or garbled Auto-Submitted is not "no": when in doubt, stay silent
  if (present(h.autoSubmitted) && token(h.autoSubmitted) !== 'no') return suppress('auto-submitted');
  if (present(h.precedence) && ['bulk', 'list', 'junk'].includes(token(h.precedence))) return suppress('precedence');
  if (present(h.listId)) return suppress('list-id');
  if (present(h.listUnsubscribe)) return suppress('list-unsubscribe');
  if (present(h.xAutoResponseSuppress) && suppressesAutoReply(h.xAutoResponseSuppress, format))
    return suppress('x-auto-response-suppress');
  return SEND;
}

/** The gate against backscatter: a forged sender must get neither a notice nor a copy of the headers. */
export function judgeAuth(mode: NoticePolicy['requireSenderAuth'], auth: NoticeAuth | null): NoticeVerdict {
  if (mode === 'none') return SEND;
  if (!auth) return suppress('sender-auth-failed');
  if (mode === 'spf') return auth.spf === 'pass' ? SEND : suppress('sender-auth-failed');
  return auth.dmarc === 'pass' && auth.aligned === true ? SEND : suppress('sender-auth-failed');
}

export function judgeThrottle(policy: NoticePolicy, history: NoticeHistory, nowMs: number): NoticeVerdict {
  const interval = policy.perSenderIntervalMs;
  const recent = (t: number | null): boolean => t !== null && interval > 0 && nowMs - t < interval;
  // one notice lists every unknown address, so it goes out as long as one of them is news to the sender
  if (history.lastSentMs.length > 0 && history.lastSentMs.every(recent)) return suppress('per-sender-interval');
  if (policy.maxPerHour > 0 && history.sentInLastHour >= policy.maxPerHour) return suppress('hourly-cap');
  return SEND;
}

/** Every rule, cheapest and most certain first. Message-only rules come before the DNS-backed auth gate. */
export function judgeMessage(policy: NoticePolicy, c: NoticeCandidate): NoticeVerdict {
  if (!policy.enabled) return suppress('notices-disabled');
  const sender = judgeSender(c.mailFrom);
  if (sender.kind === 'suppress') return sender;
  return judgeHeaders(c.headers, policy.format);
}

export function judgeNotice(input: {
  readonly policy: NoticePolicy;
  readonly candidate: NoticeCandidate;
  readonly auth: NoticeAuth | null;
  readonly history: NoticeHistory;
  readonly nowMs: number;
}): NoticeVerdict {
  const message = judgeMessage(input.policy, input.candidate);
  if (message.kind === 'suppress') return message;
  const auth = judgeAuth(input.policy.requireSenderAuth, input.auth);
  if (auth.kind === 'suppress') return auth;
  return judgeThrottle(input.policy, input.history, input.nowMs);
}
