// policy/decide: THE recipient decision, exhaustive over RcptOutcome kinds (SPEC §4).
import { describe, expect, it } from 'vitest';
import type { MailAddress, ParsedRecipient } from '../../src/address/parse.js';
import { parseRecipient } from '../../src/address/parse.js';
import type { AddressRule, DirectoryAnswer, UnknownRecipientMode } from '../../src/directory/directory.js';
import {
  decideRecipient,
  countsAsUnknown,
  type RcptContext,
  type RcptOutcome,
  type UpstreamAnswer,
} from '../../src/policy/decide.js';

type Kind = RcptOutcome['kind'];

/** Every outcome kind; the Record type makes the compiler refuse this list if a kind is added or removed. */
const ALL_KINDS: Record<Kind, true> = {
  accept: true,
  reject: true,
  'reject-after-data': true,
  moved: true,
  'owner-changed': true,
  quarantine: true,
  observe: true,
  'relay-denied': true,
  invalid: true,
  limited: true,
  deferred: true,
};

const alice: MailAddress = { localPart: 'Alice', domain: 'example.test', normalized: 'alice@example.test' };
const carol: MailAddress = { localPart: 'carol', domain: 'example.test', normalized: 'carol@example.test' };
const mb = (address: MailAddress): ParsedRecipient => ({ kind: 'mailbox', address });

const known: DirectoryAnswer = { kind: 'known', matchedBy: 'listed', mailbox: 'alice' };
const unknownReject: DirectoryAnswer = { kind: 'unknown', mode: 'reject', observeMailbox: undefined };
const unknownQuarantine: DirectoryAnswer = { kind: 'unknown', mode: 'quarantine', observeMailbox: undefined };
const unknownRad: DirectoryAnswer = { kind: 'unknown', mode: 'reject-after-data', observeMailbox: undefined };
const unknownObserve: DirectoryAnswer = { kind: 'unknown', mode: 'observe', observeMailbox: 'alice@example.test' };
const unknownObserveNoMailbox: DirectoryAnswer = { kind: 'unknown', mode: 'observe', observeMailbox: undefined };
const unavailable: DirectoryAnswer = { kind: 'unavailable', reason: 'recipients file not loaded' };
const notServed: DirectoryAnswer = { kind: 'not-served' };

const LIMITS = { maxRecipients: 3, maxUnknownRecipients: 2, maxUnknownRecipientsPerIp: 5 };

function ctx(
  recipient: ParsedRecipient,
  answer: DirectoryAnswer | null,
  over: Partial<RcptContext['counts']> & {
    shuttingDown?: boolean;
    quarantineFull?: boolean;
    nullSender?: boolean;
    transactionKind?: 'accepting' | 'rejecting' | null;
  } = {},
): RcptContext {
  const { shuttingDown = false, quarantineFull = false, nullSender = false, transactionKind = null, ...counts } = over;
  return {
    recipient,
    answer,
    counts: { rcptInTransaction: 0, unknownInSession: 0, unknownForIp: 0, ...counts },
    limits: LIMITS,
    shuttingDown,
    quarantineFull,
    nullSender,
    transactionKind,
  };
}

const NOW = Date.parse('2026-12-01T12:00:00Z');
const rule = (
  r: Partial<AddressRule> & Pick<AddressRule, 'action'>,
  mode: UnknownRecipientMode = 'reject',
): DirectoryAnswer => ({
  kind: 'rule',
  rule: { pattern: 'carol', ...r },
  mailbox: 'carol',
  mode,
  observeMailbox: mode === 'observe' ? 'alice@example.test' : undefined,
});
const hpOnly = (d: string): boolean => d === 'hp.example' || d.endsWith('.hp.example');
const ruleCtx = (
  answer: DirectoryAnswer,
  over: Parameters<typeof ctx>[2] & { senderDomain?: string } = {},
): RcptContext => {
  const { senderDomain = 'shop.test', ...rest } = over;
  return { ...ctx(mb(carol), answer, rest), senderDomain, nowMs: NOW };
};

const cases: Array<[string, RcptContext, RcptOutcome]> = [
  // RRVS (RFC 7293, SPEC §4): before/after/equal, mailbox or domain ownerSince, neither, postmaster
  ...(
    [
      [
        'RRVS before the mailbox ownerSince → 5.7.17',
        { mailboxMs: NOW },
        NOW - 1,
        { kind: 'owner-changed', recipient: alice, scope: 'mailbox' },
      ],
      [
        'RRVS equal to the mailbox ownerSince → accepted',
        { mailboxMs: NOW },
        NOW,
        { kind: 'accept', recipient: alice, mailbox: 'alice' },
      ],
      [
        'RRVS after the mailbox ownerSince → accepted',
        { mailboxMs: NOW },
        NOW + 1,
        { kind: 'accept', recipient: alice, mailbox: 'alice' },
      ],
      [
        'the mailbox ownerSince decides over the domain one',
        { mailboxMs: NOW - 10, domainMs: NOW },
        NOW - 5,
        { kind: 'accept', recipient: alice, mailbox: 'alice' },
      ],
      [
        'no mailbox ownerSince: the domain one, earlier RRVS → 5.7.18',
        { domainMs: NOW },
        NOW - 1,
        { kind: 'owner-changed', recipient: alice, scope: 'domain' },
      ],
      ['no ownerSince at all → the check passes', {}, 0, { kind: 'accept', recipient: alice, mailbox: 'alice' }],
      [
        'no RRVS given → no check',
        { mailboxMs: NOW },
        undefined,
        { kind: 'accept', recipient: alice, mailbox: 'alice' },
      ],
    ] as const
  ).map(([name, ownership, rrvsSinceMs, outcome]): [string, RcptContext, RcptOutcome] => [
    name,
    { ...ctx(mb(alice), known), ownership, rrvsSinceMs },
    outcome,
  ]),
  [
    'postmaster is exempt from RRVS',
    {
      ...ctx(mb({ localPart: 'postmaster', domain: 'example.test', normalized: 'postmaster@example.test' }), {
        kind: 'known',
        matchedBy: 'postmaster',
        mailbox: 'postmaster',
      }),
      ownership: { domainMs: NOW },
      rrvsSinceMs: 0,
    },
    {
      kind: 'accept',
      recipient: { localPart: 'postmaster', domain: 'example.test', normalized: 'postmaster@example.test' },
      mailbox: 'postmaster',
    },
  ],
  // address rules (SPEC §4): before the listed recipients, globs, file and the mode
  [
    'rule reject: 550 even where a glob would accept',
    ruleCtx(rule({ action: 'reject' })),
    { kind: 'reject', recipient: carol, retired: true },
  ],
  [
    'rule moved: 551 naming the new address',
    ruleCtx(rule({ action: 'moved', to: 'carol@new.test' })),
    { kind: 'moved', recipient: carol, to: 'carol@new.test' },
  ],
  [
    'rule defer before its date: 450',
    ruleCtx(rule({ action: 'defer', untilMs: NOW + 1 })),
    { kind: 'deferred', reason: 'address-paused', address: 'carol@example.test' },
  ],
  [
    "rule defer on its date: the domain's unknown treatment",
    ruleCtx(rule({ action: 'defer', untilMs: NOW })),
    { kind: 'reject', recipient: carol },
  ],
  [
    'rule quarantine: caught even in a reject domain',
    ruleCtx(rule({ action: 'quarantine' }, 'reject')),
    { kind: 'quarantine', recipient: carol },
  ],
  [
    'rule accept without a binding: known',
    ruleCtx(rule({ action: 'accept' })),
    { kind: 'accept', recipient: carol, mailbox: 'carol' },
  ],
  [
    'rule accept with from: an allowed sender domain is known',
    ruleCtx(rule({ action: 'accept', allowsSender: hpOnly }), { senderDomain: 'mail.hp.example' }),
    { kind: 'accept', recipient: carol, mailbox: 'carol' },
  ],
  [
    'rule accept with from: another sender gets the unknown treatment (reject), marked sender-not-allowed',
    ruleCtx(rule({ action: 'accept', allowsSender: hpOnly }), { senderDomain: 'leak.test' }),
    { kind: 'reject', recipient: carol, senderNotAllowed: true },
  ],
  [
    'rule accept with from in a quarantine domain: another sender is quarantined, marked',
    ruleCtx(rule({ action: 'accept', allowsSender: hpOnly }, 'quarantine'), { senderDomain: 'leak.test' }),
    { kind: 'quarantine', recipient: carol, senderNotAllowed: true },
  ],
  [
    'rule accept with from: the null sender passes the binding (a bounce must reach the sender)',
    ruleCtx(rule({ action: 'accept', allowsSender: hpOnly }), { nullSender: true, senderDomain: '' }),
    { kind: 'accept', recipient: carol, mailbox: 'carol' },
  ],
  [
    'sender-not-allowed counts toward the unknown limits like any unknown address',
    ruleCtx(rule({ action: 'accept', allowsSender: hpOnly }), { senderDomain: 'leak.test', unknownInSession: 2 }),
    { kind: 'limited', limit: 'max-unknown-recipients' },
  ],
  // reject-after-data (SPEC §4)
  [
    'unknown, mode reject-after-data: 250 at RCPT',
    ctx(mb(carol), unknownRad),
    { kind: 'reject-after-data', recipient: carol },
  ],
  [
    'reject-after-data in a transaction that already accepted a known recipient → 452 4.5.3',
    ctx(mb(carol), unknownRad, { transactionKind: 'accepting' }),
    { kind: 'limited', limit: 'mixed-transaction' },
  ],
  [
    'a known recipient in a reject-after-data transaction → 452 4.5.3',
    ctx(mb(alice), known, { transactionKind: 'rejecting' }),
    { kind: 'limited', limit: 'mixed-transaction' },
  ],
  [
    'a quarantine recipient in a reject-after-data transaction → 452 4.5.3',
    ctx(mb(carol), unknownQuarantine, { transactionKind: 'rejecting' }),
    { kind: 'limited', limit: 'mixed-transaction' },
  ],
  [
    'the other kind counts toward nothing: 452 even past the unknown limits',
    ctx(mb(carol), unknownRad, { transactionKind: 'accepting', unknownInSession: 9, unknownForIp: 9 }),
    { kind: 'limited', limit: 'mixed-transaction' },
  ],
  [
    'reject-after-data after reject-after-data: the same kind',
    ctx(mb(carol), unknownRad, { transactionKind: 'rejecting' }),
    { kind: 'reject-after-data', recipient: carol },
  ],
  [
    'a reject-mode 550 in a reject-after-data transaction is still a 550 (it is no recipient of either kind)',
    ctx(mb(carol), unknownReject, { transactionKind: 'rejecting' }),
    { kind: 'reject', recipient: carol },
  ],
  [
    'reject-after-data counts toward the per-IP limit',
    ctx(mb(carol), unknownRad, { unknownForIp: 5 }),
    { kind: 'limited', limit: 'max-unknown-recipients-per-ip' },
  ],
  // the null sender to an unknown address (SPEC §4): 550 in every mode but observe
  [
    '<> to unknown, mode quarantine → 550',
    ctx(mb(carol), unknownQuarantine, { nullSender: true }),
    { kind: 'reject', recipient: carol, nullSender: true },
  ],
  [
    '<> to unknown, mode reject-after-data → 550',
    ctx(mb(carol), unknownRad, { nullSender: true }),
    { kind: 'reject', recipient: carol, nullSender: true },
  ],
  [
    '<> to unknown, mode reject → 550',
    ctx(mb(carol), unknownReject, { nullSender: true }),
    { kind: 'reject', recipient: carol, nullSender: true },
  ],
  [
    '<> to unknown, mode observe → observed',
    ctx(mb(carol), unknownObserve, { nullSender: true }),
    { kind: 'observe', recipient: carol, deliverTo: 'alice@example.test' },
  ],
  [
    '<> to a known recipient → accepted',
    ctx(mb(alice), known, { nullSender: true }),
    { kind: 'accept', recipient: alice, mailbox: 'alice' },
  ],
  [
    '<> to unknown in an accepting transaction → 550, not 452',
    ctx(mb(carol), unknownRad, { nullSender: true, transactionKind: 'accepting' }),
    { kind: 'reject', recipient: carol, nullSender: true },
  ],
  // accept
  ['known recipient', ctx(mb(alice), known), { kind: 'accept', recipient: alice, mailbox: 'alice' }],
  [
    'known recipient below maxRecipients',
    ctx(mb(alice), known, { rcptInTransaction: 2 }),
    { kind: 'accept', recipient: alice, mailbox: 'alice' },
  ],
  [
    'known recipient is not held back by the unknown limits',
    ctx(mb(alice), known, { unknownInSession: 99, unknownForIp: 99 }),
    { kind: 'accept', recipient: alice, mailbox: 'alice' },
  ],
  // reject
  ['unknown, mode reject', ctx(mb(carol), unknownReject), { kind: 'reject', recipient: carol }],
  [
    'unknown, mode reject, one below the session limit',
    ctx(mb(carol), unknownReject, { unknownInSession: 1 }),
    { kind: 'reject', recipient: carol },
  ],
  [
    'unknown, mode reject, one below the per-IP limit',
    ctx(mb(carol), unknownReject, { unknownForIp: 4 }),
    { kind: 'reject', recipient: carol },
  ],
  [
    'unknown, mode observe without a mailbox (safe side)',
    ctx(mb(carol), unknownObserveNoMailbox),
    { kind: 'reject', recipient: carol },
  ],
  // quarantine
  ['unknown, mode quarantine', ctx(mb(carol), unknownQuarantine), { kind: 'quarantine', recipient: carol }],
  [
    'unknown, mode quarantine, one below the per-IP limit',
    ctx(mb(carol), unknownQuarantine, { unknownForIp: 4 }),
    { kind: 'quarantine', recipient: carol },
  ],
  [
    'quarantine mode has no per-client bound: the per-IP budget applies to quarantine too',
    ctx(mb(carol), unknownQuarantine, { unknownForIp: 5 }),
    { kind: 'limited', limit: 'max-unknown-recipients-per-ip' },
  ],
  [
    'quarantine full (quarantine.maxSize): a quarantine decision waits',
    ctx(mb(carol), unknownQuarantine, { quarantineFull: true }),
    { kind: 'deferred', reason: 'quarantine-full' },
  ],
  [
    'quarantine full does not hold back a known recipient',
    ctx(mb(alice), known, { quarantineFull: true }),
    { kind: 'accept', recipient: alice, mailbox: 'alice' },
  ],
  [
    'quarantine full does not change a reject domain',
    ctx(mb(carol), unknownReject, { quarantineFull: true }),
    { kind: 'reject', recipient: carol },
  ],
  // observe
  [
    'unknown, mode observe',
    ctx(mb(carol), unknownObserve),
    { kind: 'observe', recipient: carol, deliverTo: 'alice@example.test' },
  ],
  // relay-denied
  [
    'domain not served',
    ctx(mb(alice), notServed),
    { kind: 'relay-denied', raw: 'alice@example.test', reason: 'not-served' },
  ],
  [
    'mailbox never looked up',
    ctx(mb(alice), null),
    { kind: 'relay-denied', raw: 'alice@example.test', reason: 'not-served' },
  ],
  [
    'relay attempt with a full transaction is still relay-denied',
    ctx(mb(alice), notServed, { rcptInTransaction: 3 }),
    { kind: 'relay-denied', raw: 'alice@example.test', reason: 'not-served' },
  ],
  [
    'percent hack',
    ctx(parseRecipient('bob%elsewhere.test@example.test'), null),
    { kind: 'relay-denied', raw: 'bob%elsewhere.test@example.test', reason: '%' },
  ],
  [
    'bang path',
    ctx(parseRecipient('elsewhere.test!bob@example.test'), null),
    { kind: 'relay-denied', raw: 'elsewhere.test!bob@example.test', reason: '!' },
  ],
  [
    'quoted @',
    ctx(parseRecipient('"bob@elsewhere.test"@example.test'), null),
    { kind: 'relay-denied', raw: '"bob@elsewhere.test"@example.test', reason: 'quoted-at' },
  ],
  [
    'address literal',
    ctx(parseRecipient('alice@[127.0.0.1]'), null),
    { kind: 'relay-denied', raw: 'alice@[127.0.0.1]', reason: 'literal' },
  ],
  [
    'routing trick even if the directory would know it',
    ctx(parseRecipient('a%b@example.test'), known),
    { kind: 'relay-denied', raw: 'a%b@example.test', reason: '%' },
  ],
  // invalid
  [
    'malformed',
    ctx(parseRecipient('no-at-sign'), null),
    { kind: 'invalid', raw: 'no-at-sign', why: 'no local-part or domain' },
  ],
  [
    'local-part too long',
    ctx(parseRecipient(`${'a'.repeat(65)}@example.test`), null),
    { kind: 'invalid', raw: `${'a'.repeat(65)}@example.test`, why: 'local-part over 64 octets' },
  ],
  [
    'bare postmaster the caller did not resolve',
    ctx({ kind: 'bare-postmaster' }, null),
    { kind: 'invalid', raw: 'postmaster', why: 'postmaster not resolved' },
  ],
  // limited
  [
    'maxRecipients reached, known recipient',
    ctx(mb(alice), known, { rcptInTransaction: 3 }),
    { kind: 'limited', limit: 'max-recipients' },
  ],
  [
    'maxRecipients reached, unknown recipient',
    ctx(mb(carol), unknownQuarantine, { rcptInTransaction: 3 }),
    { kind: 'limited', limit: 'max-recipients' },
  ],
  [
    'maxUnknownRecipients reached, mode reject',
    ctx(mb(carol), unknownReject, { unknownInSession: 2 }),
    { kind: 'limited', limit: 'max-unknown-recipients' },
  ],
  [
    'maxUnknownRecipients reached, mode quarantine',
    ctx(mb(carol), unknownQuarantine, { unknownInSession: 2 }),
    { kind: 'limited', limit: 'max-unknown-recipients' },
  ],
  [
    'observe counts toward neither limit (SPEC §3): session limit reached',
    ctx(mb(carol), unknownObserve, { unknownInSession: 5 }),
    { kind: 'observe', recipient: carol, deliverTo: 'alice@example.test' },
  ],
  [
    'observe counts toward neither limit (SPEC §3): per-IP limit reached',
    ctx(mb(carol), unknownObserve, { unknownForIp: 5 }),
    { kind: 'observe', recipient: carol, deliverTo: 'alice@example.test' },
  ],
  [
    'maxUnknownRecipientsPerIp reached, mode reject',
    ctx(mb(carol), unknownReject, { unknownForIp: 5 }),
    { kind: 'limited', limit: 'max-unknown-recipients-per-ip' },
  ],
  [
    'session limit is checked before the per-IP limit',
    ctx(mb(carol), unknownReject, { unknownInSession: 2, unknownForIp: 5 }),
    { kind: 'limited', limit: 'max-unknown-recipients' },
  ],
  // deferred
  ['recipients file unavailable', ctx(mb(carol), unavailable), { kind: 'deferred', reason: 'directory-unavailable' }],
  [
    'shutting down, known recipient',
    ctx(mb(alice), known, { shuttingDown: true }),
    { kind: 'deferred', reason: 'shutting-down' },
  ],
  [
    'shutting down wins over a malformed address',
    ctx(parseRecipient('no-at-sign'), null, { shuttingDown: true }),
    { kind: 'deferred', reason: 'shutting-down' },
  ],
  [
    'shutting down wins over relay denial',
    ctx(mb(alice), notServed, { shuttingDown: true }),
    { kind: 'deferred', reason: 'shutting-down' },
  ],
  [
    'shutting down wins over limits',
    ctx(mb(carol), unknownReject, { shuttingDown: true, unknownInSession: 9, rcptInTransaction: 9 }),
    { kind: 'deferred', reason: 'shutting-down' },
  ],
];

describe('decideRecipient', () => {
  it.each(cases)('%s', (_label, input, outcome) => {
    expect(decideRecipient(input)).toEqual(outcome);
  });

  it('the table covers every RcptOutcome kind, and every limit and deferral reason', () => {
    const outcomes = cases.map(([, input]) => decideRecipient(input));
    expect(new Set(outcomes.map((o) => o.kind))).toEqual(new Set(Object.keys(ALL_KINDS)));
    const limits = new Set(outcomes.flatMap((o) => (o.kind === 'limited' ? [o.limit] : [])));
    expect(limits).toEqual(
      new Set(['max-recipients', 'max-unknown-recipients', 'max-unknown-recipients-per-ip', 'mixed-transaction']),
    );
    const deferrals = new Set(outcomes.flatMap((o) => (o.kind === 'deferred' ? [o.reason] : [])));
    expect(deferrals).toEqual(new Set(['directory-unavailable', 'shutting-down', 'quarantine-full', 'address-paused']));
    const relayReasons = new Set(outcomes.flatMap((o) => (o.kind === 'relay-denied' ? [o.reason] : [])));
    expect(relayReasons).toEqual(new Set(['not-served', '%', '!', 'quoted-at', 'literal']));
  });

  it('is total: every combination of recipient, answer, counts and flags gets exactly one outcome', () => {
    const recipients: ParsedRecipient[] = [
      mb(alice),
      mb(carol),
      { kind: 'bare-postmaster' },
      parseRecipient('a%b@example.test'),
      parseRecipient('a!b@example.test'),
      parseRecipient('"a@b"@example.test'),
      parseRecipient('a@[10.0.0.1]'),
      parseRecipient('broken'),
    ];
    const answers: Array<DirectoryAnswer | null> = [
      null,
      known,
      unknownReject,
      unknownQuarantine,
      unknownObserve,
      unknownObserveNoMailbox,
      unavailable,
      notServed,
    ];
    const numbers = [0, 2, 3, 5, 100];
    let n = 0;
    const strays: string[] = [];
    for (const r of recipients)
      for (const a of answers)
        for (const rcptInTransaction of numbers)
          for (const unknownInSession of numbers)
            for (const unknownForIp of numbers)
              for (const shuttingDown of [false, true]) {
                const o = decideRecipient(
                  ctx(r, a, { rcptInTransaction, unknownInSession, unknownForIp, shuttingDown }),
                );
                if (ALL_KINDS[o.kind] !== true) strays.push(JSON.stringify(o));
                n++;
              }
    expect(strays).toEqual([]);
    expect(n).toBe(8 * 8 * 5 * 5 * 5 * 2);
  });
});

describe('countsAsUnknown', () => {
  const sample: Record<Kind, RcptOutcome> = {
    accept: { kind: 'accept', recipient: alice, mailbox: 'alice' },
    reject: { kind: 'reject', recipient: carol },
    'reject-after-data': { kind: 'reject-after-data', recipient: carol },
    moved: { kind: 'moved', recipient: carol, to: 'carol@new.test' },
    'owner-changed': { kind: 'owner-changed', recipient: carol, scope: 'mailbox' },
    quarantine: { kind: 'quarantine', recipient: carol },
    observe: { kind: 'observe', recipient: carol, deliverTo: 'alice@example.test' },
    'relay-denied': { kind: 'relay-denied', raw: 'x@y.test', reason: 'not-served' },
    invalid: { kind: 'invalid', raw: 'x', why: 'no local-part or domain' },
    limited: { kind: 'limited', limit: 'max-recipients' },
    deferred: { kind: 'deferred', reason: 'shutting-down' },
  };
  const expected: Record<Kind, boolean> = {
    accept: false,
    reject: true,
    'reject-after-data': true,
    moved: false,
    'owner-changed': false,
    quarantine: true,
    observe: false,
    'relay-denied': false,
    invalid: false,
    limited: false,
    deferred: false,
  };
  it.each(Object.keys(expected) as Kind[])('%s → counts as unknown: see table', (kind) => {
    expect(countsAsUnknown(sample[kind])).toBe(expected[kind]);
  });
});

describe('decideRecipient: the upstream’s word, and when there is none (verify.upstream, #12)', () => {
  const withUpstream = (
    answer: DirectoryAnswer,
    upstream: UpstreamAnswer,
    over: Partial<RcptContext['counts']> = {},
  ) => ({
    ...ctx(mb(carol), answer, over),
    upstream,
  });
  const limitIp: UpstreamAnswer = { kind: 'not-asked', why: 'max-unknown-recipients-per-ip', detail: 'x' };
  const limitSession: UpstreamAnswer = { kind: 'not-asked', why: 'max-unknown-recipients', detail: 'x' };
  const allowance: UpstreamAnswer = { kind: 'not-asked', why: 'observe-allowance', detail: 'x' };
  const down: UpstreamAnswer = { kind: 'unavailable', detail: 'RCPT answered 450 4.7.1 slow down' };
  const paused: UpstreamAnswer = { kind: 'unavailable', detail: 'not asked: …', notAsked: true };
  const verifyDeferred = (mode: UnknownRecipientMode): RcptOutcome => ({
    kind: 'deferred',
    reason: 'verify-upstream-unavailable',
    unknownMode: mode,
  });
  it.each<[string, RcptContext, RcptOutcome]>([
    // not asked because of a limit (probes under way counted): the limit's 421, never the mode
    [
      'not asked, IP at its limit with probes under way, reject → 421 per IP',
      withUpstream(unknownReject, limitIp, { unknownForIp: 2 }),
      { kind: 'limited', limit: 'max-unknown-recipients-per-ip' },
    ],
    [
      'not asked, quarantine → 421 per IP (nothing quarantined unasked)',
      withUpstream(unknownQuarantine, limitIp),
      { kind: 'limited', limit: 'max-unknown-recipients-per-ip' },
    ],
    [
      'not asked, session at its limit, reject-after-data → 421',
      withUpstream(unknownRad, limitSession),
      { kind: 'limited', limit: 'max-unknown-recipients' },
    ],
    [
      'not asked, null sender → 421, not the backscatter 550 (the mailbox may exist)',
      { ...withUpstream(unknownReject, limitIp), nullSender: true },
      { kind: 'limited', limit: 'max-unknown-recipients-per-ip' },
    ],
    // observe: not asking is safe, the mail reaches the observe mailbox either way
    [
      'not asked in observe mode (allowance spent) → observed',
      withUpstream(unknownObserve, allowance, { unknownForIp: 100 }),
      { kind: 'observe', recipient: carol, deliverTo: 'alice@example.test' },
    ],
    [
      'the allowance outside observe (cannot happen) → 451, never the mode',
      withUpstream(unknownReject, allowance),
      verifyDeferred('reject'),
    ],
    // cannot tell: 451 4.4.3 and counted, or the limit's 421 once the budget is spent
    [
      'upstream 4xx, within the limits → 451',
      withUpstream(unknownReject, down, { unknownForIp: 4 }),
      verifyDeferred('reject'),
    ],
    ['upstream paused, within the limits → 451', withUpstream(unknownQuarantine, paused), verifyDeferred('quarantine')],
    [
      'upstream 4xx, the IP at maxUnknownRecipientsPerIp → 421',
      withUpstream(unknownReject, down, { unknownForIp: 5 }),
      { kind: 'limited', limit: 'max-unknown-recipients-per-ip' },
    ],
    [
      'upstream 4xx, the session at maxUnknownRecipients → 421',
      withUpstream(unknownRad, down, { unknownInSession: 2 }),
      { kind: 'limited', limit: 'max-unknown-recipients' },
    ],
    [
      'upstream 4xx in observe mode, past every count → 451 (observe has no limits)',
      withUpstream(unknownObserve, down, { unknownInSession: 9, unknownForIp: 99 }),
      verifyDeferred('observe'),
    ],
  ])('%s', (_label, input, outcome) => {
    expect(decideRecipient(input)).toEqual(outcome);
  });

  it.each<[string, RcptOutcome, boolean]>([
    ['451 4.4.3 for a reject-mode address counts as unknown', verifyDeferred('reject'), true],
    ['… quarantine mode', verifyDeferred('quarantine'), true],
    ['… reject-after-data mode', verifyDeferred('reject-after-data'), true],
    ['… observe mode: counts toward nothing', verifyDeferred('observe'), false],
    [
      'another 4xx (directory unavailable) counts toward nothing',
      { kind: 'deferred', reason: 'directory-unavailable' },
      false,
    ],
    [
      'the limit’s 421 itself counts toward nothing',
      { kind: 'limited', limit: 'max-unknown-recipients-per-ip' },
      false,
    ],
  ])('countsAsUnknown: %s', (_label, outcome, expected) => {
    expect(countsAsUnknown(outcome)).toBe(expected);
  });
});
