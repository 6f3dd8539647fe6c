// Every suppression rule of SPEC §6, per format (dsn: a non-delivery report; plain: RFC 3834), one row each, plus NOTIFY, the auth gate and the throttle.
import { describe, expect, it } from 'vitest';
import {
  judgeAuth,
  judgeHeaders,
  judgeNotify,
  judgeNotice,
  judgeSender,
  judgeThrottle,
  suppressesAutoReply,
  type NoticeCandidate,
  type NoticeHeaders,
  type NoticeHistory,
  type NoticePolicy,
} from '../../src/notice/eligibility.js';

const policy: NoticePolicy = {
  enabled: true,
  format: 'dsn',
  requireSenderAuth: 'none',
  perSenderIntervalMs: 86_400_000,
  maxPerHour: 200,
};
const candidate: NoticeCandidate = { mailFrom: 'jane@shop.test', recipients: ['typo@example.test'], headers: {} };
const fresh: NoticeHistory = { lastSentMs: [null], sentInLastHour: 0 };
const NOW = Date.parse('2026-11-23T10:00:00Z');

const SEND = 'send';

describe('senders (SPEC §6): a dsn notice is a non-delivery report for bounce handlers; a plain one follows RFC 3834 §2', () => {
  it.each<[string, string, string]>([
    // both formats
    ['', 'null-sender', 'null-sender'],
    ['   ', 'null-sender', 'null-sender'],
    ['MAILER-DAEMON@shop.test', 'mailer-daemon-sender', 'mailer-daemon-sender'],
    ['mailer-daemon@shop.test', 'mailer-daemon-sender', 'mailer-daemon-sender'],
    ['no-at-sign', 'invalid-sender', 'invalid-sender'],
    ['@shop.test', 'invalid-sender', 'invalid-sender'],
    ['root,admin,x@attacker.test', 'invalid-sender', 'invalid-sender'],
    ['a:b@attacker.test', 'invalid-sender', 'invalid-sender'],
    ['a;b@attacker.test', 'invalid-sender', 'invalid-sender'],
    ['x@y.test,z@attacker.test', 'invalid-sender', 'invalid-sender'],
    ['.jane@shop.test', 'invalid-sender', 'invalid-sender'],
    ['jane..doe@shop.test', 'invalid-sender', 'invalid-sender'],
    ['"unterminated@shop.test', 'invalid-sender', 'invalid-sender'],
    // the addresses a CRM, a shop or a list sends from: exactly who must learn in dsn form
    ['bounces+4711@crm.test', SEND, SEND],
    ['bounces+4711=x.test@crm.test', SEND, SEND],
    ['postmaster@shop.test', SEND, 'postmaster-sender'],
    ['PostMaster@shop.test', SEND, 'postmaster-sender'],
    ['owner-announce@lists.test', SEND, 'owner-sender'],
    ['announce-request@lists.test', SEND, 'request-sender'],
    ['noreply@shop.test', SEND, 'noreply-sender'],
    ['no-reply@shop.test', SEND, 'noreply-sender'],
    ['NoReply+bounce-123@shop.test', SEND, 'noreply-sender'],
    ['donotreply@shop.test', SEND, 'noreply-sender'],
    ['do-not-reply@shop.test', SEND, 'noreply-sender'],
    // people
    ['jane@shop.test', SEND, SEND],
    ['owner@shop.test', SEND, SEND],
    ['request@shop.test', SEND, SEND],
    ['replyto@shop.test', SEND, SEND],
    ['noreplyjane@shop.test', SEND, SEND],
    ['postmasters@shop.test', SEND, SEND],
    ['"jane,doe"@shop.test', SEND, SEND],
    ['"a\\"b"@shop.test', SEND, SEND],
    ['jürgen@shop.test', SEND, SEND],
  ])('%j → dsn: %s, plain: %s', (from, dsn, plain) => {
    const v = (r: string): unknown => (r === SEND ? { kind: 'send' } : { kind: 'suppress', reason: r });
    expect(judgeSender(from, 'dsn')).toEqual(v(dsn));
    expect(judgeSender(from, 'plain')).toEqual(v(plain));
  });
});

describe('headers (SPEC §6): the shapes of CRM mail reach a dsn notice; plain follows RFC 3834 §3.1', () => {
  it.each<[string, NoticeHeaders, string, string]>([
    [
      'List-Unsubscribe (every CRM newsletter)',
      { listUnsubscribe: '<mailto:leave@crm.test>' },
      SEND,
      'list-unsubscribe',
    ],
    ['Precedence: bulk', { precedence: 'bulk' }, SEND, 'precedence'],
    ['Precedence: List', { precedence: 'List' }, SEND, 'precedence'],
    ['Precedence: junk', { precedence: ' junk ' }, SEND, 'precedence'],
    ['Auto-Submitted: auto-generated', { autoSubmitted: 'auto-generated' }, SEND, 'auto-submitted'],
    ['Auto-Submitted: auto-notified', { autoSubmitted: 'Auto-Notified; owner-email="x@y"' }, SEND, 'auto-submitted'],
    ['an empty Auto-Submitted', { autoSubmitted: '' }, SEND, 'auto-submitted'],
    ['List-Id', { listId: '<announce.lists.test>' }, SEND, 'list-id'],
    ['Auto-Submitted: auto-replied (a loop)', { autoSubmitted: 'auto-replied' }, 'auto-submitted', 'auto-submitted'],
    [
      'Auto-Submitted: Auto-Replied (comment)',
      { autoSubmitted: 'Auto-Replied (vacation)' },
      'auto-submitted',
      'auto-submitted',
    ],
    [
      'X-Auto-Response-Suppress: All',
      { xAutoResponseSuppress: 'All' },
      'x-auto-response-suppress',
      'x-auto-response-suppress',
    ],
    ['X-Auto-Response-Suppress: NDR', { xAutoResponseSuppress: 'DR, NDR, RN, NRN' }, 'x-auto-response-suppress', SEND],
    [
      'X-Auto-Response-Suppress: AutoReply',
      { xAutoResponseSuppress: 'OOF, AutoReply' },
      SEND,
      'x-auto-response-suppress',
    ],
    ['X-Auto-Response-Suppress: OOF', { xAutoResponseSuppress: 'OOF' }, SEND, SEND],
    ['nothing', {}, SEND, SEND],
    ['Auto-Submitted: no', { autoSubmitted: 'No (a person wrote this)' }, SEND, SEND],
    ['Precedence: first-class', { precedence: 'first-class' }, SEND, SEND],
    [
      'all null',
      { autoSubmitted: null, precedence: null, listId: null, listUnsubscribe: null, xAutoResponseSuppress: null },
      SEND,
      SEND,
    ],
  ])('%s → dsn: %s, plain: %s', (_name, headers, dsn, plain) => {
    const v = (r: string): unknown => (r === SEND ? { kind: 'send' } : { kind: 'suppress', reason: r });
    expect(judgeHeaders(headers, 'dsn')).toEqual(v(dsn));
    expect(judgeHeaders(headers, 'plain')).toEqual(v(plain));
  });

  it('X-Auto-Response-Suppress: NDR stops the dsn form, AutoReply the plain one, All both', () => {
    expect(suppressesAutoReply('NDR', 'dsn')).toBe(true);
    expect(suppressesAutoReply('NDR', 'plain')).toBe(false);
    expect(suppressesAutoReply('autoreply', 'plain')).toBe(true);
    expect(suppressesAutoReply('autoreply', 'dsn')).toBe(false);
    expect(suppressesAutoReply('all', 'dsn')).toBe(true);
    expect(suppressesAutoReply('All', 'plain')).toBe(true);
    expect(suppressesAutoReply('OOF', 'plain')).toBe(false);
  });
});

describe('NOTIFY (RFC 3461 §4.1)', () => {
  it.each<[string, boolean[], string]>([
    ['no recipient gave NOTIFY', [true], SEND],
    ['NOTIFY=NEVER (or only SUCCESS/DELAY) for every unknown recipient', [false, false], 'notify-no-failure'],
    ['one of two asked for FAILURE: the notice goes (listing that one)', [false, true], SEND],
    ['no recipients at all', [], SEND],
  ])('%s → %s', (_name, wanted, verdict) => {
    expect(judgeNotify(wanted)).toEqual(verdict === SEND ? { kind: 'send' } : { kind: 'suppress', reason: verdict });
  });
});

describe('sender authentication gate', () => {
  it.each([
    ['none', null, 'send'],
    ['spf', { spf: 'pass', dmarc: 'skipped' }, 'send'],
    ['spf', { spf: 'fail', dmarc: 'skipped' }, 'sender-auth-failed'],
    ['spf', { spf: 'softfail', dmarc: 'skipped' }, 'sender-auth-failed'],
    ['spf', { spf: 'neutral', dmarc: 'skipped' }, 'sender-auth-failed'],
    ['spf', { spf: 'none', dmarc: 'skipped' }, 'sender-auth-failed'],
    ['spf', { spf: 'temperror', dmarc: 'temperror' }, 'sender-auth-failed'],
    ['spf', { spf: 'permerror', dmarc: 'skipped' }, 'sender-auth-failed'],
    ['spf', null, 'sender-auth-failed'],
    ['dmarc', { spf: 'pass', dmarc: 'pass', aligned: true }, 'send'],
    ['dmarc', { spf: 'fail', dmarc: 'pass', aligned: true }, 'send'],
    ['dmarc', { spf: 'pass', dmarc: 'pass', aligned: false }, 'sender-auth-failed'],
    ['dmarc', { spf: 'pass', dmarc: 'pass' }, 'sender-auth-failed'],
    ['dmarc', { spf: 'pass', dmarc: 'fail', aligned: true }, 'sender-auth-failed'],
    ['dmarc', { spf: 'pass', dmarc: 'none', aligned: true }, 'sender-auth-failed'],
    ['dmarc', { spf: 'temperror', dmarc: 'temperror', aligned: true }, 'sender-auth-failed'],
  ] as const)('%s with %j → %s', (mode, auth, expected) => {
    expect(judgeAuth(mode, auth)).toEqual(
      expected === 'send' ? { kind: 'send' } : { kind: 'suppress', reason: expected },
    );
  });
});

describe('throttle', () => {
  it('per-sender-interval: a notice for the same sender and unknown recipient within the interval', () => {
    expect(judgeThrottle(policy, { lastSentMs: [NOW - 3_600_000], sentInLastHour: 1 }, NOW)).toEqual({
      kind: 'suppress',
      reason: 'per-sender-interval',
    });
  });
  it('the interval has passed → send', () => {
    expect(judgeThrottle(policy, { lastSentMs: [NOW - 86_400_000], sentInLastHour: 0 }, NOW)).toEqual({ kind: 'send' });
  });
  it('one of two recipients is new → send (the notice lists both)', () => {
    expect(judgeThrottle(policy, { lastSentMs: [NOW - 1000, null], sentInLastHour: 1 }, NOW)).toEqual({ kind: 'send' });
  });
  it('perSenderInterval 0 turns the dedupe off', () => {
    expect(
      judgeThrottle({ ...policy, perSenderIntervalMs: 0 }, { lastSentMs: [NOW - 1], sentInLastHour: 1 }, NOW),
    ).toEqual({ kind: 'send' });
  });
  it('hourly-cap: maxPerHour notices in the last hour', () => {
    expect(judgeThrottle(policy, { lastSentMs: [null], sentInLastHour: 200 }, NOW)).toEqual({
      kind: 'suppress',
      reason: 'hourly-cap',
    });
    expect(judgeThrottle(policy, { lastSentMs: [null], sentInLastHour: 199 }, NOW)).toEqual({ kind: 'send' });
  });
  it('maxPerHour 0 turns the cap off', () => {
    expect(judgeThrottle({ ...policy, maxPerHour: 0 }, { lastSentMs: [null], sentInLastHour: 10_000 }, NOW)).toEqual({
      kind: 'send',
    });
  });
});

describe('judgeNotice: all rules together', () => {
  const judge = (over: Partial<Parameters<typeof judgeNotice>[0]>): ReturnType<typeof judgeNotice> =>
    judgeNotice({ policy, candidate, auth: null, history: fresh, nowMs: NOW, retry: false, ...over });

  it('an ordinary message from a person → send', () => {
    expect(judge({})).toEqual({ kind: 'send' });
  });
  it('notices disabled → notices-disabled', () => {
    expect(judge({ policy: { ...policy, enabled: false } })).toEqual({ kind: 'suppress', reason: 'notices-disabled' });
  });
  it('sender rules come before header rules, header rules before auth, auth before the throttle', () => {
    expect(judge({ candidate: { ...candidate, mailFrom: '', headers: { precedence: 'bulk' } } })).toEqual({
      kind: 'suppress',
      reason: 'null-sender',
    });
    expect(
      judge({
        candidate: { ...candidate, headers: { precedence: 'bulk' } },
        policy: { ...policy, format: 'plain', requireSenderAuth: 'spf' },
      }),
    ).toEqual({ kind: 'suppress', reason: 'precedence' });
    expect(
      judge({
        policy: { ...policy, requireSenderAuth: 'spf' },
        auth: { spf: 'fail', dmarc: 'skipped' },
        history: { lastSentMs: [NOW], sentInLastHour: 999 },
      }),
    ).toEqual({ kind: 'suppress', reason: 'sender-auth-failed' });
    expect(judge({ history: { lastSentMs: [NOW], sentInLastHour: 999 } })).toEqual({
      kind: 'suppress',
      reason: 'per-sender-interval',
    });
  });
});
