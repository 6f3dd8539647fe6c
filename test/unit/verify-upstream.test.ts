// verify.upstream's pure parts, by table: when a RCPT may cost a probe (the harvest limits first),
// what an upstream RCPT reply means, where the upstream's word sits in the decision (SPEC §4 order),
// and the cache's TTLs.
import { describe, expect, it } from 'vitest';
import type { MailAddress } from '../../src/address/parse.js';
import type { DirectoryAnswer } from '../../src/directory/directory.js';
import { decideRecipient, type RcptContext, type UpstreamAnswer } from '../../src/policy/decide.js';
import { mayProbe, probeGate, type ProbesForIp } from '../../src/policy/probe-gate.js';
import { formatReply, replyForRcpt } from '../../src/smtp/replies.js';
import { createVerifyCache } from '../../src/verify/cache.js';
import { classifyRcptReply } from '../../src/verify/upstream-probe.js';

const jane: MailAddress = { localPart: 'jane', domain: 'example.test', normalized: 'jane@example.test' };
const unknown = (mode: 'reject' | 'quarantine' | 'reject-after-data' | 'observe'): DirectoryAnswer => ({
  kind: 'unknown',
  mode,
  observeMailbox: mode === 'observe' ? 'alice@example.test' : undefined,
});

function ctx(
  answer: DirectoryAnswer,
  over: Partial<RcptContext['counts']> & Partial<Pick<RcptContext, 'shuttingDown' | 'nullSender' | 'upstream'>> = {},
): RcptContext {
  const { shuttingDown = false, nullSender = false, upstream, ...counts } = over;
  return {
    recipient: { kind: 'mailbox', address: jane },
    answer,
    counts: { rcptInTransaction: 0, unknownInSession: 0, unknownForIp: 0, ...counts },
    limits: { maxRecipients: 10, maxUnknownRecipients: 3, maxUnknownRecipientsPerIp: 20 },
    shuttingDown,
    nullSender,
    upstream,
  };
}

describe('mayProbe: the harvest limits apply before the probe', () => {
  it.each<[string, RcptContext, boolean]>([
    ['an unknown local-part, within the limits', ctx(unknown('reject')), true],
    ['the session at maxUnknownRecipients', ctx(unknown('reject'), { unknownInSession: 3 }), false],
    ['the IP at maxUnknownRecipientsPerIp', ctx(unknown('quarantine'), { unknownForIp: 20 }), false],
    ['one below both limits', ctx(unknown('reject-after-data'), { unknownInSession: 2, unknownForIp: 19 }), true],
    ['observe has no harvest limits', ctx(unknown('observe'), { unknownInSession: 50, unknownForIp: 500 }), true],
    ['a listed recipient is never asked about', ctx({ kind: 'known', matchedBy: 'listed', mailbox: 'jane' }), false],
    ['the directory unavailable: 451 without a probe', ctx({ kind: 'unavailable', reason: 'x' }), false],
    ['shutting down', ctx(unknown('reject'), { shuttingDown: true }), false],
    ['the transaction full (452 4.5.3 whatever the answer)', ctx(unknown('reject'), { rcptInTransaction: 10 }), false],
  ])('%s → %s', (_label, c, expected) => {
    expect(mayProbe(c)).toBe(expected);
  });

  it('limits of 0 are off', () => {
    const c = {
      ...ctx(unknown('reject'), { unknownInSession: 99, unknownForIp: 999 }),
      limits: { maxRecipients: 10, maxUnknownRecipients: 0, maxUnknownRecipientsPerIp: 0 },
    };
    expect(mayProbe(c)).toBe(true);
  });
});

describe('classifyRcptReply: what the upstream said', () => {
  it.each<[number, string, string]>([
    [250, '2.1.5 Ok', 'exists'],
    [251, 'User not local; will forward', 'exists'],
    [550, '5.1.1 <x@example.test>: Recipient address rejected: User unknown in local recipient table', 'no-such-user'],
    [550, 'No such user here', 'no-such-user'],
    [551, '5.1.6 user has moved', 'no-such-user'],
    [553, '5.1.3 mailbox name not allowed', 'no-such-user'],
    // not "no such user": the upstream refuses to tell (relay, policy), or says nothing about the mailbox
    [554, '5.7.1 <x@example.test>: Relay access denied', 'unavailable'],
    [550, '5.7.1 Relaying denied', 'unavailable'],
    [552, '5.2.2 mailbox full', 'unavailable'],
    [450, '4.2.0 greylisted', 'unavailable'],
    [451, '4.3.0 try later', 'unavailable'],
    [421, '4.4.2 closing', 'unavailable'],
  ])('%i %s → %s', (code, text, kind) => {
    expect(classifyRcptReply({ code, text, lines: [text] }).kind).toBe(kind);
  });
});

describe('decideRecipient with the upstream’s word (after the directory, before the mode)', () => {
  const exists: UpstreamAnswer = { kind: 'exists', mailbox: 'jane', source: 'upstream' };
  const noSuchUser: UpstreamAnswer = { kind: 'no-such-user', source: 'cache' };
  const down: UpstreamAnswer = { kind: 'unavailable', detail: 'timeout' };
  it.each<[string, RcptContext, string]>([
    ['exists → known', ctx(unknown('reject'), { upstream: exists }), '250 2.1.5 Accepted'],
    [
      'exists, null sender → known (a bounce reaches it)',
      ctx(unknown('reject'), { upstream: exists, nullSender: true }),
      '250 2.1.5 Accepted',
    ],
    [
      'no such user, mode reject → 550 5.1.1',
      ctx(unknown('reject'), { upstream: noSuchUser }),
      '550 5.1.1 <jane@example.test>: recipient address rejected: user unknown',
    ],
    [
      'no such user, mode quarantine → 250 (quarantined)',
      ctx(unknown('quarantine'), { upstream: noSuchUser }),
      '250 2.1.5 Accepted',
    ],
    [
      'cannot tell → 451 4.4.3, never a guess',
      ctx(unknown('quarantine'), { upstream: down }),
      '451 4.4.3 cannot verify the recipient with the mailbox server now, try again later',
    ],
    [
      'no answer asked (over the limits) → the usual 421',
      ctx(unknown('reject'), { unknownInSession: 3 }),
      '421 4.7.0 too many unknown recipients, closing connection',
    ],
  ])('%s', (_label, c, line) => {
    expect(formatReply(replyForRcpt(decideRecipient(c)))).toBe(line);
  });

  it('the directory wins: a listed recipient is known whatever the upstream would say', () => {
    const c = ctx({ kind: 'known', matchedBy: 'listed', mailbox: 'jane' }, { upstream: down });
    expect(decideRecipient(c).kind).toBe('accept');
  });
});

describe('the verify cache', () => {
  it('keeps each answer for its own TTL, case-insensitively', async () => {
    const cache = createVerifyCache();
    await cache.set('Jane@example.test', 'exists', 10_000);
    await cache.set('ghost@example.test', 'no-such-user', 50);
    expect(await cache.get('jane@EXAMPLE.test')).toBe('exists');
    expect(await cache.get('ghost@example.test')).toBe('no-such-user');
    await new Promise((r) => setTimeout(r, 80));
    expect(await cache.get('ghost@example.test')).toBeUndefined();
    expect(await cache.get('jane@example.test')).toBe('exists');
  });

  it('is bounded: the least recently used go first', async () => {
    const cache = createVerifyCache({ max: 3 });
    for (const a of ['a', 'b', 'c']) await cache.set(`${a}@x.test`, 'exists', 60_000);
    await cache.get('a@x.test');
    await cache.set('d@x.test', 'exists', 60_000);
    const got = await Promise.all(['a', 'b', 'c', 'd'].map((a) => cache.get(`${a}@x.test`)));
    expect(got.map((v) => v ?? '-')).toEqual(['exists', '-', 'exists', 'exists']);
  });
});

describe('probeGate: probes under way and observe mode’s allowance (#12)', () => {
  const forIp = (underWay: number, observeSpent = 0): ProbesForIp => ({ underWay, observeSpent });
  it.each<[string, RcptContext, ProbesForIp, string]>([
    ['nothing under way, within the limits', ctx(unknown('reject')), forIp(0), 'probe'],
    ['19 counted + 0 under way (limit 20)', ctx(unknown('reject'), { unknownForIp: 19 }), forIp(0), 'probe'],
    [
      '19 counted + 1 under way: the probe under way may end unknown',
      ctx(unknown('reject'), { unknownForIp: 19 }),
      forIp(1),
      'max-unknown-recipients-per-ip',
    ],
    ['20 asks under way, none counted yet', ctx(unknown('quarantine')), forIp(20), 'max-unknown-recipients-per-ip'],
    [
      'the session at its limit (before the IP)',
      ctx(unknown('reject'), { unknownInSession: 3 }),
      forIp(30),
      'max-unknown-recipients',
    ],
    ['observe: 19 probes spent, none under way', ctx(unknown('observe'), { unknownForIp: 500 }), forIp(0, 19), 'probe'],
    ['observe: the allowance spent', ctx(unknown('observe')), forIp(0, 20), 'observe-allowance'],
    ['observe: 15 spent + 5 under way', ctx(unknown('observe')), forIp(5, 15), 'observe-allowance'],
    ['a listed recipient', ctx({ kind: 'known', matchedBy: 'listed', mailbox: 'jane' }), forIp(99), 'not-needed'],
    ['shutting down', ctx(unknown('reject'), { shuttingDown: true }), forIp(99), 'not-needed'],
    ['the transaction full', ctx(unknown('reject'), { rcptInTransaction: 10 }), forIp(0), 'not-needed'],
  ])('%s → %s', (_label, c, ip, expected) => {
    expect(probeGate(c, ip)).toBe(expected);
  });

  it('maxUnknownRecipientsPerIp 0 turns the per-IP bound off, in observe mode too', () => {
    const limits = { maxRecipients: 10, maxUnknownRecipients: 0, maxUnknownRecipientsPerIp: 0 };
    expect(probeGate({ ...ctx(unknown('reject'), { unknownForIp: 999 }), limits }, forIp(999))).toBe('probe');
    expect(probeGate({ ...ctx(unknown('observe')), limits }, forIp(999, 999))).toBe('probe');
  });
});
