// Whether a quarantined message may get a notice (SPEC §6): the rules depend on the format, since a
// non-delivery report (dsn, RFC 3464) goes to bounce handlers and lists while an automatic reply
// (plain) follows RFC 3834; then the DSN extension's NOTIFY, the sender-authentication gate and the
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
  | 'notify-no-failure'
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

export type NoticeFormat = 'dsn' | 'plain';

export interface NoticePolicy {
  readonly enabled: boolean;
  readonly format: NoticeFormat;
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
  /** Per recipient (same order): whether the client's NOTIFY asks for a failure report (absent: yes). */
  readonly failureWanted?: readonly boolean[];
  readonly headers: NoticeHeaders;
}

const SEND: NoticeVerdict = { kind: 'send' };
const suppress = (reason: SuppressionReason): NoticeVerdict => ({ kind: 'suppress', reason });

/**
 * Who may get a notice at all. Both formats: never the null sender, an address that is not one
 * mailbox, or MAILER-DAEMON (a report about a report loops). `plain` is an automatic reply to a
 * person (RFC 3834 §2) and spares software, lists and administrators too; `dsn` is a non-delivery
 * report (RFC 3464, RFC 5321 §6.1), and bounce handlers, list owners and `noreply@` addresses are
 * exactly who must learn that an address is wrong.
 */
export function judgeSender(mailFrom: string, format: NoticeFormat): NoticeVerdict {
  if (mailFrom.trim() === '') return suppress('null-sender');
  const at = mailFrom.lastIndexOf('@');
  if (at <= 0 || at === mailFrom.length - 1) return suppress('invalid-sender');
  // `root,admin,x@attacker.test` is not one mailbox: a notice to it would reach whatever a parser makes of it
  if (!isMailboxLocalPart(mailFrom.slice(0, at))) return suppress('invalid-sender');
  // a subaddress does not change who reads the mailbox: noreply+bounce@ is still noreply@
  const local = mailFrom.slice(0, at).replace(/^"|"$/g, '').toLowerCase().split('+')[0] ?? '';
  if (local === 'mailer-daemon') return suppress('mailer-daemon-sender');
  if (format === 'dsn') return SEND;
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
 * NRN, OOF, AutoReply. SPEC §6: `All` suppresses either format; `NDR` a dsn notice (a non-delivery
 * report), `AutoReply` a plain one (an automatic reply).
 */
export function suppressesAutoReply(value: string, format: NoticeFormat): boolean {
  const words = value
    .split(/[,\s]+/)
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
  return words.some((w) => w === 'all' || w === (format === 'dsn' ? 'ndr' : 'autoreply'));
}

/**
 * What the message says of itself. Both formats: `Auto-Submitted: auto-replied` (answering an
 * auto-reply loops) and X-Auto-Response-Suppress. `plain` only (RFC 3834 §3.1): any other automatic
 * or bulk marking and list headers — the very headers a CRM's mail carries, which is why `dsn`
 * ignores them: the CRM's bounce handler is who must learn.
 */
export function judgeHeaders(h: NoticeHeaders, format: NoticeFormat): NoticeVerdict {
  const autoSubmitted = present(h.autoSubmitted) ? token(h.autoSubmitted) : null;
  if (autoSubmitted === 'auto-replied') return suppress('auto-submitted');
  if (present(h.xAutoResponseSuppress) && suppressesAutoReply(h.xAutoResponseSuppress, format))
    return suppress('x-auto-response-suppress');
  if (format === 'dsn') return SEND;
  // an empty or garbled Auto-Submitted is not "no": when in doubt, stay silent
  if (autoSubmitted !== null && autoSubmitted !== 'no') return suppress('auto-submitted');
  if (present(h.precedence) && ['bulk', 'list', 'junk'].includes(token(h.precedence))) return suppress('precedence');
  if (present(h.listId)) return suppress('list-id');
  if (present(h.listUnsubscribe)) return suppress('list-unsubscribe');
  return SEND;
}

/** RFC 3461 §4.1: when every unknown recipient was given NOTIFY without FAILURE, the sender asked for no report. */
export function judgeNotify(failureWanted: readonly boolean[]): NoticeVerdict {
  return failureWanted.length > 0 && failureWanted.every((w) => !w) ? suppress('notify-no-failure') : SEND;
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

/** At receipt: an entry gets a pending notice only while notices are on. */
export function judgeAtReceipt(policy: Pick<NoticePolicy, 'enabled'>): NoticeVerdict {
  return policy.enabled ? SEND : suppress('notices-disabled');
}

/**
 * What to do with a pending notice now. THE order of the rules (SPEC §6), cheapest and most certain
 * first: off, sender, headers, then the DNS-backed auth gate, then the throttle.
 */
export type NoticeJudgement =
  | NoticeVerdict
  /** The auth gate needs the sender's SPF/DMARC result: look it up, then judge again with it. */
  | { readonly kind: 'authenticate' }
  /** The hourly cap: the notice waits for a free slot (SPEC §6), it is not suppressed. */
  | { readonly kind: 'wait'; readonly reason: 'hourly-cap' };

export interface NoticeInput {
  readonly policy: NoticePolicy;
  readonly candidate: NoticeCandidate;
  /** The sender's SPF/DMARC result; undefined while not looked up, null when it could not be had. */
  readonly auth: NoticeAuth | null | undefined;
  readonly history: NoticeHistory;
  readonly nowMs: number;
  /**
   * A retry after a failed send: it was judged and counted by the throttle on its first attempt, and
   * judging it again would let its own throttle record stop it. Only "notices are off" still applies.
   */
  readonly retry: boolean;
}

export function judgeNotice(input: NoticeInput): NoticeJudgement {
  const { policy, candidate } = input;
  const on = judgeAtReceipt(policy);
  if (on.kind === 'suppress' || input.retry) return on;
  const sender = judgeSender(candidate.mailFrom, policy.format);
  if (sender.kind === 'suppress') return sender;
  const notify = judgeNotify(candidate.failureWanted ?? []);
  if (notify.kind === 'suppress') return notify;
  const headers = judgeHeaders(candidate.headers, policy.format);
  if (headers.kind === 'suppress') return headers;
  if (policy.requireSenderAuth !== 'none') {
    if (input.auth === undefined) return { kind: 'authenticate' };
    const gate = judgeAuth(policy.requireSenderAuth, input.auth);
    if (gate.kind === 'suppress') return gate;
  }
  const throttle = judgeThrottle(policy, input.history, input.nowMs);
  if (throttle.kind === 'suppress' && throttle.reason === 'hourly-cap') return { kind: 'wait', reason: 'hourly-cap' };
  return throttle;
}
