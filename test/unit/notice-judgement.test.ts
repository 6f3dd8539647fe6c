// judgeNotice is the one place the rule order of SPEC §6 lives: what the outbox does with a pending
// notice, including the steps that are not a verdict (look up SPF/DMARC first, wait for an hourly slot).
import { describe, expect, it } from 'vitest';
import { judgeAtReceipt, judgeNotice, type NoticeInput, type NoticeJudgement } from '../../src/notice/eligibility.js';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const base: NoticeInput = {
  policy: { enabled: true, format: 'dsn', requireSenderAuth: 'spf', perSenderIntervalMs: 86_400_000, maxPerHour: 2 },
  candidate: { mailFrom: 'jane@shop.test', recipients: ['typo@example.test'], headers: {} },
  auth: undefined,
  history: { lastSentMs: [null], sentInLastHour: 0 },
  nowMs: NOW,
  retry: false,
};
const SPF_PASS = { spf: 'pass', dmarc: 'skipped' };

describe('judgeNotice', () => {
  it.each<[string, Partial<NoticeInput>, NoticeJudgement]>([
    ['auth not looked up yet → authenticate first', {}, { kind: 'authenticate' }],
    ['auth looked up, SPF pass → send', { auth: SPF_PASS }, { kind: 'send' }],
    [
      'auth could not be had (null) → sender-auth-failed',
      { auth: null },
      { kind: 'suppress', reason: 'sender-auth-failed' },
    ],
    [
      'requireSenderAuth none never asks for auth',
      { policy: { ...base.policy, requireSenderAuth: 'none' } },
      { kind: 'send' },
    ],
    [
      'a sender rule decides before any DNS look-up',
      { candidate: { ...base.candidate, mailFrom: 'MAILER-DAEMON@shop.test' } },
      { kind: 'suppress', reason: 'mailer-daemon-sender' },
    ],
    [
      'a header rule decides before any DNS look-up',
      { candidate: { ...base.candidate, headers: { autoSubmitted: 'auto-replied' } } },
      { kind: 'suppress', reason: 'auto-submitted' },
    ],
    [
      'NOTIFY without FAILURE decides before any DNS look-up',
      { candidate: { ...base.candidate, failureWanted: [false] } },
      { kind: 'suppress', reason: 'notify-no-failure' },
    ],
    [
      'a CRM message (bounces+VERP@, List-Unsubscribe, Precedence: bulk) → a dsn notice',
      {
        auth: SPF_PASS,
        candidate: {
          ...base.candidate,
          mailFrom: 'bounces+4711@crm.test',
          headers: { listUnsubscribe: '<mailto:u@crm.test>', precedence: 'bulk', autoSubmitted: 'auto-generated' },
        },
      },
      { kind: 'send' },
    ],
    [
      'the same CRM message → no plain notice (RFC 3834)',
      {
        auth: SPF_PASS,
        policy: { ...base.policy, format: 'plain' },
        candidate: {
          ...base.candidate,
          mailFrom: 'bounces+4711@crm.test',
          headers: { listUnsubscribe: '<mailto:u@crm.test>', precedence: 'bulk', autoSubmitted: 'auto-generated' },
        },
      },
      { kind: 'suppress', reason: 'auto-submitted' },
    ],
    [
      'the hourly cap makes the notice wait, never suppresses it',
      { auth: SPF_PASS, history: { lastSentMs: [null], sentInLastHour: 2 } },
      { kind: 'wait', reason: 'hourly-cap' },
    ],
    [
      'the per-sender interval suppresses before the hourly cap is looked at',
      { auth: SPF_PASS, history: { lastSentMs: [NOW - 1000], sentInLastHour: 2 } },
      { kind: 'suppress', reason: 'per-sender-interval' },
    ],
    [
      'notices off → notices-disabled, before anything else',
      { policy: { ...base.policy, enabled: false }, candidate: { ...base.candidate, mailFrom: '' } },
      { kind: 'suppress', reason: 'notices-disabled' },
    ],
    [
      'a retry is not judged again (its own throttle record would stop it)',
      { retry: true, history: { lastSentMs: [NOW - 1000], sentInLastHour: 99 } },
      { kind: 'send' },
    ],
    [
      'a retry after notices were turned off → notices-disabled',
      { retry: true, policy: { ...base.policy, enabled: false } },
      { kind: 'suppress', reason: 'notices-disabled' },
    ],
  ])('%s', (_name, over, expected) => {
    expect(judgeNotice({ ...base, ...over })).toEqual(expected);
  });
});

describe('judgeAtReceipt', () => {
  it('notices on → a pending notice; off → suppressed notices-disabled', () => {
    expect(judgeAtReceipt({ enabled: true })).toEqual({ kind: 'send' });
    expect(judgeAtReceipt({ enabled: false })).toEqual({ kind: 'suppress', reason: 'notices-disabled' });
  });
});
