// Observe mode's X-Original-To fields and the answer for a transaction handed on in several upstream
// transactions: table tests of the pure parts (src/delivery/original-to.ts, upstream.ts).
import { describe, expect, it } from 'vitest';
import type { DeliveryOutcome, DeliveryRecipient } from '../../src/delivery/delivery.js';
import { groupByDestination, originalToHeaders } from '../../src/delivery/original-to.js';
import { combineBatches } from '../../src/delivery/upstream.js';

const known = (address: string, mailbox = address): DeliveryRecipient => ({ address, mailbox });
const observed = (original: string, to = 'alice@example.test'): DeliveryRecipient => ({
  address: to,
  mailbox: to,
  originalRecipient: original,
});

describe('originalToHeaders', () => {
  it.each<[string, DeliveryRecipient[], string]>([
    [
      'known recipients only: nothing',
      [known('bob@example.test'), known('bob+x@example.test', 'bob@example.test')],
      '',
    ],
    ['one observed address', [observed('x@example.test')], 'X-Original-To: x@example.test\r\n'],
    [
      'two observed addresses, in envelope order',
      [observed('y@example.test'), observed('x@example.test')],
      'X-Original-To: y@example.test\r\nX-Original-To: x@example.test\r\n',
    ],
    [
      'the observe mailbox itself among them is named too',
      [known('alice@example.test'), observed('x@example.test')],
      'X-Original-To: alice@example.test\r\nX-Original-To: x@example.test\r\n',
    ],
    [
      'the same address twice: once',
      [observed('x@example.test'), observed('x@example.test')],
      'X-Original-To: x@example.test\r\n',
    ],
    [
      'a line break can never start a field of its own',
      [observed('x\r\nBcc: a@b@example.test')],
      'X-Original-To: xBcc: a@b@example.test\r\n',
    ],
    ['UTF-8 stays as it is (RFC 6532)', [observed('jürgen@example.test')], 'X-Original-To: jürgen@example.test\r\n'],
  ])('%s', (_name, group, expected) => {
    expect(originalToHeaders(group)).toBe(expected);
  });
});

describe('groupByDestination', () => {
  it('keeps the order of first appearance and every member', () => {
    const a = known('bob+x@example.test', 'bob@example.test');
    const b = observed('x@example.test');
    const c = known('bob@example.test');
    expect([...groupByDestination([a, b, c], (r) => r.mailbox)]).toEqual([
      ['bob@example.test', [a, c]],
      ['alice@example.test', [b]],
    ]);
  });
});

describe('combineBatches', () => {
  const delivered = (detail: string, refused: string[] = []): DeliveryOutcome => ({
    kind: 'delivered',
    detail,
    refused,
  });
  const permanent: DeliveryOutcome = {
    kind: 'permanent',
    upstream: { code: 550, enhanced: '5.1.1', text: 'no such mailbox' },
  };
  it.each<[string, { to: string[]; outcome: DeliveryOutcome }[], DeliveryOutcome]>([
    ['one batch delivered', [{ to: ['b@x'], outcome: delivered('250 ok') }], delivered('250 ok')],
    ['one batch refused', [{ to: ['b@x'], outcome: permanent }], permanent],
    [
      'every batch refused: the first refusal',
      [
        { to: ['b@x'], outcome: permanent },
        { to: ['a@x'], outcome: permanent },
      ],
      permanent,
    ],
    [
      'one delivered, one refused: delivered, the refused batch named',
      [
        { to: ['b@x', 'c@x'], outcome: delivered('250 one', ['c@x']) },
        { to: ['a@x'], outcome: permanent },
      ],
      delivered('250 one', ['c@x', 'a@x']),
    ],
    [
      'two delivered: both answers',
      [
        { to: ['b@x'], outcome: delivered('250 one') },
        { to: ['a@x'], outcome: delivered('250 two') },
      ],
      delivered('250 one; 250 two'),
    ],
  ])('%s', (_name, done, expected) => {
    expect(combineBatches(done)).toEqual(expected);
  });
});
