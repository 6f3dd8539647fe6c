// Every suppression rule of SPEC §6 (RFC 3834 §2, §3.1), one row each, plus the auth gate and the throttle.
import { describe, expect, it } from 'vitest';
import {
  judgeAuth,
  judgeHeaders,
  judgeNotice,
  judgeSender,
  judgeThrottle,
  suppressesAutoReply,
  type NoticeCandidate,
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

describe('RFC 3834 §2: senders that never get a notice', () => {
  it.each([
    ['', 'null-sender'],
    ['   ', 'null-sender'],
    ['MAILER-DAEMON@shop.test', 'mailer-daemon-sender'],
    ['mailer-daemon@shop.test', 'mailer-daemon-sender'],
    ['postmaster@shop.test', 'postmaster-sender'],
    ['PostMaster@shop.test', 'postmaster-sender'],
    ['owner-announce@lists.test', 'owner-sender'],
    ['announce-request@lists.test', 'request-sender'],
    ['noreply@shop.test', 'noreply-sender'],
    ['no-reply@shop.test', 'noreply-sender'],
    ['NoReply+bounce-123@shop.test', 'noreply-sender'],
    ['donotreply@shop.test', 'noreply-sender'],
    ['do-not-reply@shop.test', 'noreply-sender'],
    ['no-at-sign', 'invalid-sender'],
    ['@shop.test', 'invalid-sender'],
    ['root,admin,x@attacker.test', 'invalid-sender'],
    ['a:b@attacker.test', 'invalid-sender'],
    ['a;b@attacker.test', 'invalid-sender'],
    ['x@y.test,z@attacker.test', 'invalid-sender'],
    ['.jane@shop.test', 'invalid-sender'],
    ['jane..doe@shop.test', 'invalid-sender'],
    ['"unterminated@shop.test', 'invalid-sender'],
  ])('%j → suppressed %s', (from, reason) => {
    expect(judgeSender(from)).toEqual({ kind: 'suppress', reason });
  });

  it.each([
    'jane@shop.test',
    'owner@shop.test',
    'request@shop.test',
    'replyto@shop.test',
    'noreplyjane@shop.test',
    'postmasters@shop.test',
    '"jane,doe"@shop.test',
    '"a\\"b"@shop.test',
    'bounces+4711=x.test@crm.test',
    'jürgen@shop.test',
  ])('%s → send', (from) => {
    expect(judgeSender(from)).toEqual({ kind: 'send' });
  });
});

describe('RFC 3834 §3.1: automatic, bulk and list messages get no notice', () => {
  it.each([
    [{ autoSubmitted: 'auto-generated' }, 'auto-submitted'],
    [{ autoSubmitted: 'auto-replied' }, 'auto-submitted'],
    [{ autoSubmitted: 'Auto-Notified; owner-email="x@y"' }, 'auto-submitted'],
    [{ autoSubmitted: '' }, 'auto-submitted'],
    [{ precedence: 'bulk' }, 'precedence'],
    [{ precedence: 'List' }, 'precedence'],
    [{ precedence: ' junk ' }, 'precedence'],
    [{ listId: '<announce.lists.test>' }, 'list-id'],
    [{ listUnsubscribe: '<mailto:leave@lists.test>' }, 'list-unsubscribe'],
    [{ xAutoResponseSuppress: 'All' }, 'x-auto-response-suppress'],
    [{ xAutoResponseSuppress: 'OOF, AutoReply' }, 'x-auto-response-suppress'],
    [{ xAutoResponseSuppress: 'DR, NDR, RN, NRN' }, 'x-auto-response-suppress'],
  ] as const)('%j → suppressed %s', (headers, reason) => {
    expect(judgeHeaders(headers, 'dsn')).toEqual({ kind: 'suppress', reason });
  });

  it.each([
    [{}],
    [{ autoSubmitted: 'no' }],
    [{ autoSubmitted: 'No (a person wrote this)' }],
    [{ precedence: 'first-class' }],
    [{ autoSubmitted: null, precedence: null, listId: null, listUnsubscribe: null, xAutoResponseSuppress: null }],
    [{ xAutoResponseSuppress: 'OOF' }],
    [{ xAutoResponseSuppress: 'None' }],
    [{ xAutoResponseSuppress: 'DR, RN' }],
  ])('%j → send', (headers) => {
    expect(judgeHeaders(headers, 'dsn')).toEqual({ kind: 'send' });
  });

  it('X-Auto-Response-Suppress: NDR stops the DSN form (an NDR) but not the plain auto-reply', () => {
    expect(suppressesAutoReply('NDR', 'dsn')).toBe(true);
    expect(suppressesAutoReply('NDR', 'plain')).toBe(false);
    expect(suppressesAutoReply('autoreply', 'plain')).toBe(true);
    expect(suppressesAutoReply('OOF', 'plain')).toBe(false);
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
        policy: { ...policy, requireSenderAuth: 'spf' },
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
