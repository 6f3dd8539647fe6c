// smtp/replies: every outcome → the exact reply line (SPEC §4 table).
import { describe, expect, it } from 'vitest';
import type { MailAddress } from '../../src/address/parse.js';
import type { RcptOutcome } from '../../src/policy/decide.js';
import {
  formatReply,
  reasonForRcpt,
  replies,
  replyForCommit,
  replyForFailure,
  replyForRcpt,
  ReplyError,
  wireText,
} from '../../src/smtp/replies.js';
import type { CommitOutcome } from '../../src/transaction/commit.js';

const alice: MailAddress = { localPart: 'Alice', domain: 'example.test', normalized: 'alice@example.test' };
const carol: MailAddress = { localPart: 'Carol', domain: 'example.test', normalized: 'carol@example.test' };

/** Rows per RcptOutcome kind and variant; the Record type keeps the keys in step with the union. */
const rcptTable: Record<RcptOutcome['kind'], Array<[RcptOutcome, string]>> = {
  accept: [[{ kind: 'accept', recipient: alice, mailbox: 'alice' }, '250 2.1.5 Accepted']],
  reject: [
    [{ kind: 'reject', recipient: carol }, '550 5.1.1 <carol@example.test>: recipient address rejected: user unknown'],
    [
      { kind: 'reject', recipient: carol, nullSender: true },
      '550 5.1.1 <carol@example.test>: recipient address rejected: user unknown',
    ],
    [
      { kind: 'reject', recipient: carol, retired: true },
      '550 5.1.1 <carol@example.test>: recipient address rejected: user unknown',
    ],
    [
      { kind: 'reject', recipient: carol, senderNotAllowed: true },
      '550 5.1.1 <carol@example.test>: recipient address rejected: user unknown',
    ],
  ],
  'reject-after-data': [[{ kind: 'reject-after-data', recipient: carol }, '250 2.1.5 Accepted']],
  'owner-changed': [
    [
      { kind: 'owner-changed', recipient: carol, scope: 'mailbox' },
      '550 5.7.17 <carol@example.test>: mailbox owner has changed',
    ],
    [
      { kind: 'owner-changed', recipient: carol, scope: 'domain' },
      '550 5.7.18 <carol@example.test>: domain owner has changed',
    ],
  ],
  moved: [
    [
      { kind: 'moved', recipient: carol, to: 'carol@new.test' },
      '551 5.1.6 <carol@example.test>: user has moved; please try <carol@new.test>',
    ],
  ],
  quarantine: [
    [{ kind: 'quarantine', recipient: carol }, '250 2.1.5 Accepted'],
    [{ kind: 'quarantine', recipient: carol, senderNotAllowed: true }, '250 2.1.5 Accepted'],
  ],
  observe: [[{ kind: 'observe', recipient: carol, deliverTo: 'alice@example.test' }, '250 2.1.5 Accepted']],
  'relay-denied': [
    [
      { kind: 'relay-denied', raw: 'someone@elsewhere.test', reason: 'not-served' },
      '554 5.7.1 <someone@elsewhere.test>: relay access denied',
    ],
    [
      { kind: 'relay-denied', raw: 'bob%elsewhere.test@example.test', reason: '%' },
      '550 5.7.1 <bob%elsewhere.test@example.test>: source routing and percent hacks are not supported: relay access denied',
    ],
    [
      { kind: 'relay-denied', raw: 'elsewhere.test!bob@example.test', reason: '!' },
      '550 5.7.1 <elsewhere.test!bob@example.test>: source routing and percent hacks are not supported: relay access denied',
    ],
    [
      { kind: 'relay-denied', raw: '"bob@elsewhere.test"@example.test', reason: 'quoted-at' },
      '550 5.7.1 <"bob@elsewhere.test"@example.test>: source routing and percent hacks are not supported: relay access denied',
    ],
    [
      { kind: 'relay-denied', raw: 'bob@[127.0.0.1]', reason: 'literal' },
      '554 5.7.1 <bob@[127.0.0.1]>: relay access denied',
    ],
  ],
  invalid: [
    [
      { kind: 'invalid', raw: 'no-at-sign', why: 'no local-part or domain' },
      '501 5.1.3 bad recipient address syntax: no local-part or domain',
    ],
    [
      { kind: 'invalid', raw: 'x', why: 'local-part over 64 octets' },
      '501 5.1.3 bad recipient address syntax: local-part over 64 octets',
    ],
  ],
  limited: [
    [{ kind: 'limited', limit: 'max-recipients' }, '452 4.5.3 too many recipients in this transaction'],
    [{ kind: 'limited', limit: 'max-unknown-recipients' }, '421 4.7.0 too many unknown recipients, closing connection'],
    [
      { kind: 'limited', limit: 'max-unknown-recipients-per-ip' },
      '421 4.7.0 too many unknown recipients from your address, try again later',
    ],
    [{ kind: 'limited', limit: 'mixed-transaction' }, '452 4.5.3 send this recipient in another transaction'],
  ],
  deferred: [
    [
      { kind: 'deferred', reason: 'directory-unavailable' },
      '451 4.3.0 recipient directory unavailable, try again later',
    ],
    [{ kind: 'deferred', reason: 'shutting-down' }, '421 4.3.2 server shutting down, try again later'],
    [
      { kind: 'deferred', reason: 'quarantine-full' },
      '452 4.3.1 insufficient system storage: quarantine full, try again later',
    ],
    [
      { kind: 'deferred', reason: 'address-paused', address: 'press@example.test' },
      '450 4.2.1 <press@example.test>: mailbox temporarily unavailable',
    ],
    [
      { kind: 'deferred', reason: 'verify-upstream-unavailable' },
      '451 4.4.3 cannot verify the recipient with the mailbox server now, try again later',
    ],
  ],
};

const ENHANCED_AT_START = /^(\d{3}) ([245])\.\d{1,3}\.\d{1,3} \S/;

describe('replyForRcpt', () => {
  const rows = Object.values(rcptTable).flat();
  it.each(rows)('%j → %s', (outcome, line) => {
    expect(formatReply(replyForRcpt(outcome))).toBe(line);
  });

  it('every reply carries an enhanced code whose class matches the reply code', () => {
    for (const [outcome] of rows) {
      const line = formatReply(replyForRcpt(outcome));
      const m = ENHANCED_AT_START.exec(line);
      expect(m, line).not.toBeNull();
      expect(m?.[2]).toBe(m?.[1]?.[0]);
    }
  });
});

describe('replyForCommit', () => {
  it.each<[string, CommitOutcome, string]>([
    ['stored', { kind: 'stored', qid: 'abc123', refused: [] }, '250 2.0.0 Ok: queued as abc123'],
    [
      'temporary: storage, with its greppable reason',
      { kind: 'temporary', source: 'storage', reason: 'storage-enospc', detail: 'ENOSPC' },
      '451 4.3.0 local error in processing, try again later [storage-enospc]',
    ],
    [
      'temporary: upstream, with its greppable reason',
      { kind: 'temporary', source: 'upstream', reason: 'upstream-unreachable', detail: 'ECONNREFUSED' },
      '451 4.4.1 mailbox server temporarily unavailable, try again later [upstream-unreachable]',
    ],
    [
      'permanent 550 5.1.1',
      { kind: 'permanent', upstream: { code: 550, enhanced: '5.1.1', text: 'no such user' } },
      '550 5.1.1 mailbox server refused the message: no such user',
    ],
    [
      'permanent 554 5.7.1',
      { kind: 'permanent', upstream: { code: 554, enhanced: '5.7.1', text: 'spam' } },
      '554 5.7.1 mailbox server refused the message: spam',
    ],
    [
      'permanent 552 5.2.2 (mailbox full) keeps the enhanced code',
      { kind: 'permanent', upstream: { code: 552, enhanced: '5.2.2', text: 'mailbox full' } },
      '550 5.2.2 mailbox server refused the message: mailbox full',
    ],
    [
      'permanent without an enhanced code',
      { kind: 'permanent', upstream: { code: 550, text: 'nope' } },
      '550 5.0.0 mailbox server refused the message: nope',
    ],
    [
      'permanent with an undefined enhanced code',
      { kind: 'permanent', upstream: { code: 550, enhanced: undefined, text: 'nope' } },
      '550 5.0.0 mailbox server refused the message: nope',
    ],
    [
      'permanent with a 4.x.x enhanced code is never passed on as such',
      { kind: 'permanent', upstream: { code: 550, enhanced: '4.2.0', text: 'odd' } },
      '550 5.0.0 mailbox server refused the message: odd',
    ],
    [
      'permanent with a garbage enhanced code',
      { kind: 'permanent', upstream: { code: 550, enhanced: '5.1.1; rm -rf', text: 'x' } },
      '550 5.0.0 mailbox server refused the message: x',
    ],
  ])('%s', (_label, outcome, line) => {
    expect(formatReply(replyForCommit(outcome))).toBe(line);
  });

  it('the upstream text cannot inject a line or a second reply', () => {
    const r = replyForCommit({
      kind: 'permanent',
      upstream: { code: 550, enhanced: '5.7.1', text: 'bad\r\n250 2.0.0 Ok\r\n' },
    });
    const line = formatReply(r);
    expect(line).not.toMatch(/[\r\n]/);
    expect(line).toBe('550 5.7.1 mailbox server refused the message: bad 250 2.0.0 Ok');
  });

  it('the upstream text is capped at 200 characters', () => {
    const r = replyForCommit({ kind: 'permanent', upstream: { code: 550, enhanced: '5.7.1', text: 'x'.repeat(5000) } });
    expect(r.text).toBe(`mailbox server refused the message: ${'x'.repeat(200)}`);
  });
});

describe('replyForFailure', () => {
  it.each<[string, unknown]>([
    ['Error', new Error('boom')],
    ['errno error', Object.assign(new Error('disk full'), { code: 'ENOSPC' })],
    ['an error that claims to be permanent', Object.assign(new Error('550 no'), { responseCode: 550 })],
    ['string', 'oops'],
    ['null', null],
    ['undefined', undefined],
    ['number', 42],
    ['object', { code: 550 }],
  ])('%s → 451 4.3.0', (_label, err) => {
    const r = replyForFailure(err);
    expect(r.code).toBe(451);
    expect(formatReply(r)).toBe('451 4.3.0 local error in processing, try again later [internal-error]');
  });
});

describe('reply helpers', () => {
  it('messageTooLarge names the limit', () => {
    expect(formatReply(replies.messageTooLarge(1048576))).toBe(
      '552 5.3.4 message exceeds the size limit of 1048576 bytes',
    );
  });

  it('ReplyError carries the code and the enhanced code at the start of its text', () => {
    const e = new ReplyError(replies.userUnknown('carol@example.test'));
    expect(e).toBeInstanceOf(Error);
    expect(e.responseCode).toBe(550);
    expect(e.message).toBe('5.1.1 <carol@example.test>: recipient address rejected: user unknown');
  });

  it.each<[string, string]>([
    ['plain', 'plain'],
    ['a\r\nb', 'a b'],
    ['\x00\x1b[31mred\x7f', '[31mred'],
    ['  spaced  ', 'spaced'],
  ])('wireText(%j) = %j', (input, out) => {
    expect(wireText(input)).toBe(out);
  });

  it('every catalogue reply has an enhanced code of the reply class', () => {
    const all = [
      replies.recipientOk(),
      replies.userUnknown('a@b.test'),
      replies.relayDenied('a@b.test'),
      replies.routingTrick('a@b.test'),
      replies.malformedAddress('x'),
      replies.tooManyRecipients(),
      replies.harvestLimit(),
      replies.harvestLimitIp(),
      replies.tooManyConnections(),
      replies.tooManyConnectionsIp(),
      replies.earlyTalker(),
      replies.messageTooLarge(1),
      replies.directoryUnavailable(),
      replies.storageFailure('storage-eio'),
      replies.upstreamUnavailable('upstream-timeout'),
      replies.quarantineFull(),
      replies.dataTimeout(),
      replies.sessionTimeout(),
      replies.shuttingDown(),
      replies.queued('q'),
    ];
    for (const r of all) {
      expect(r.enhanced[0]).toBe(String(r.code)[0]);
      expect(formatReply(r)).toMatch(ENHANCED_AT_START);
    }
  });
});

describe('reasonForRcpt: the stable code of every refused RCPT', () => {
  const expected: Record<RcptOutcome['kind'], Array<string | undefined>> = {
    accept: [undefined],
    reject: ['user-unknown', 'null-sender-unknown', 'address-retired', 'sender-not-allowed'],
    'reject-after-data': [undefined],
    moved: ['address-moved'],
    'owner-changed': ['rrvs-mailbox-owner-changed', 'rrvs-domain-owner-changed'],
    quarantine: [undefined, 'sender-not-allowed'],
    observe: [undefined],
    'relay-denied': ['relay-denied', 'percent-hack', 'bang-path', 'quoted-at', 'address-literal'],
    invalid: ['malformed-address', 'malformed-address'],
    limited: ['max-recipients', 'max-unknown-recipients', 'max-unknown-recipients-per-ip', 'mixed-transaction'],
    deferred: [
      'directory-unavailable',
      'shutting-down',
      'quarantine-full',
      'address-paused',
      'verify-upstream-unavailable',
    ],
  };
  for (const kind of Object.keys(rcptTable) as Array<RcptOutcome['kind']>) {
    it(`${kind} → ${JSON.stringify(expected[kind])}`, () => {
      expect(rcptTable[kind].map(([o]) => reasonForRcpt(o))).toEqual(expected[kind]);
    });
  }
});

describe('rejectedAfterData: the 550 after the final dot names the unknown addresses, within 512 octets', () => {
  it.each<[string, string[], string]>([
    ['one', ['a@example.test'], '550 5.1.1 <a@example.test>: recipient address rejected: user unknown'],
    [
      'two',
      ['a@example.test', 'b@example.test'],
      '550 5.1.1 <a@example.test>, <b@example.test>: recipient address rejected: user unknown',
    ],
  ])('%s', (_n, addresses, line) => {
    expect(formatReply(replies.rejectedAfterData(addresses))).toBe(line);
  });

  it('100 long addresses: as many as fit, then "and N more"; the line stays under 512 octets', () => {
    const many = Array.from({ length: 100 }, (_, i) => `${'x'.repeat(60)}${String(i).padStart(3, '0')}@example.test`);
    const line = formatReply(replies.rejectedAfterData(many));
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(510);
    // five addresses of 76 octets fit, a sixth would pass 510
    expect(line).toBe(
      `550 5.1.1 ${many
        .slice(0, 5)
        .map((a) => `<${a}>`)
        .join(', ')} and 95 more: recipient address rejected: user unknown`,
    );
  });
});
