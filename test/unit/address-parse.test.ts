// address/parse: what a RCPT/MAIL address becomes before any policy looks at it (SPEC §4).
import { describe, expect, it } from 'vitest';
import {
  isMailboxLocalPart,
  normalizeSender,
  parseRecipient,
  toAsciiDomain,
  type ParsedRecipient,
  type RoutingVia,
} from '../../src/address/parse.js';

function mailbox(p: ParsedRecipient): { localPart: string; domain: string; normalized: string } {
  if (p.kind !== 'mailbox') throw new Error(`expected a mailbox, got ${JSON.stringify(p)}`);
  return { ...p.address };
}

/** Four 63-octet labels and three dots: exactly 255 octets. */
const DOMAIN_255 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;

describe('parseRecipient: mailboxes', () => {
  it.each<[string, string, string, string]>([
    ['alice@example.test', 'alice', 'example.test', 'alice@example.test'],
    ['Alice@Example.TEST', 'Alice', 'example.test', 'alice@example.test'],
    ['ALICE+News@EXAMPLE.test', 'ALICE+News', 'example.test', 'alice+news@example.test'],
    ['  bob@example.test  ', 'bob', 'example.test', 'bob@example.test'],
    ['info@bücher.test', 'info', 'xn--bcher-kva.test', 'info@xn--bcher-kva.test'],
    ['INFO@BÜCHER.TEST', 'INFO', 'xn--bcher-kva.test', 'info@xn--bcher-kva.test'],
    ['info@xn--bcher-kva.test', 'info', 'xn--bcher-kva.test', 'info@xn--bcher-kva.test'],
    ['info@XN--BCHER-KVA.TEST', 'info', 'xn--bcher-kva.test', 'info@xn--bcher-kva.test'],
    ['first.last@example.test', 'first.last', 'example.test', 'first.last@example.test'],
  ])('%s → local-part %s, domain %s, normalized %s', (raw, localPart, domain, normalized) => {
    expect(mailbox(parseRecipient(raw))).toEqual({ localPart, domain, normalized });
  });

  it('Unicode and xn-- spellings of an IDN compare equal', () => {
    const a = mailbox(parseRecipient('info@bücher.test'));
    const b = mailbox(parseRecipient('info@xn--bcher-kva.test'));
    expect(a.normalized).toBe(b.normalized);
    expect(a.domain).toBe(b.domain);
  });

  it('comparisons are case-insensitive but the local-part is kept as received', () => {
    const p = mailbox(parseRecipient('MiXeD@Example.Test'));
    expect(p.localPart).toBe('MiXeD');
    expect(p.normalized).toBe(mailbox(parseRecipient('mixed@example.test')).normalized);
  });
});

describe('parseRecipient: bare postmaster', () => {
  it.each(['postmaster', 'Postmaster', 'POSTMASTER', ' postmaster '])('%j → bare-postmaster', (raw) => {
    expect(parseRecipient(raw)).toEqual({ kind: 'bare-postmaster' });
  });

  it('postmaster@domain is an ordinary mailbox', () => {
    expect(parseRecipient('postmaster@example.test')).toEqual({
      kind: 'mailbox',
      address: { localPart: 'postmaster', domain: 'example.test', normalized: 'postmaster@example.test' },
    });
  });
});

describe('parseRecipient: routing tricks', () => {
  it.each<[string, RoutingVia, string]>([
    ['bob%elsewhere.test@example.test', '%', 'example.test'],
    ['a%b%c@example.test', '%', 'example.test'],
    ['elsewhere.test!bob@example.test', '!', 'example.test'],
    ['"bob@elsewhere.test"@example.test', 'quoted-at', 'example.test'],
    ['alice@[127.0.0.1]', 'literal', '[127.0.0.1]'],
    ['alice@[IPv6:::1]', 'literal', '[ipv6:::1]'],
    ['bob%elsewhere.test@other.test', '%', 'other.test'],
  ])('%s → routing-trick via %s (domain %s)', (raw, via, domain) => {
    expect(parseRecipient(raw)).toEqual({ kind: 'routing-trick', raw, domain, via });
  });
});

describe('parseRecipient: malformed and length limits (RFC 5321 §4.5.3.1)', () => {
  it.each<[string, string, string]>([
    ['no-at-sign', 'no-at-sign', 'no local-part or domain'],
    ['@example.test', '@example.test', 'no local-part or domain'],
    ['alice@', 'alice@', 'no local-part or domain'],
    ['@', '@', 'no local-part or domain'],
    ['', '', 'no local-part or domain'],
    ['   ', '', 'no local-part or domain'],
    ['alice@exa mple.test', 'alice@exa mple.test', 'invalid domain'],
    ['alice@exa<mple.test', 'alice@exa<mple.test', 'invalid domain'],
    ['bob@example.test.', 'bob@example.test.', 'trailing dot in the domain'],
  ])('%j → malformed (raw %j): %s', (input, raw, why) => {
    expect(parseRecipient(input)).toEqual({ kind: 'malformed', raw, why });
  });

  it('a 64-octet local-part is accepted, 65 octets is malformed', () => {
    expect(mailbox(parseRecipient(`${'a'.repeat(64)}@example.test`)).localPart).toBe('a'.repeat(64));
    expect(parseRecipient(`${'a'.repeat(65)}@example.test`)).toEqual({
      kind: 'malformed',
      raw: `${'a'.repeat(65)}@example.test`,
      why: 'local-part over 64 octets',
    });
  });

  it('the local-part limit counts octets, not characters', () => {
    // ü is two octets in UTF-8: 32 of them are 64 octets, 33 are 66
    expect(mailbox(parseRecipient(`${'ü'.repeat(32)}@example.test`)).localPart).toBe('ü'.repeat(32));
    expect(parseRecipient(`${'ü'.repeat(33)}@example.test`)).toEqual({
      kind: 'malformed',
      raw: `${'ü'.repeat(33)}@example.test`,
      why: 'local-part over 64 octets',
    });
  });

  it('a 255-octet domain is accepted, 256 octets is malformed', () => {
    expect(Buffer.byteLength(DOMAIN_255)).toBe(255);
    expect(mailbox(parseRecipient(`x@${DOMAIN_255}`)).domain).toBe(DOMAIN_255);
    expect(parseRecipient(`x@${DOMAIN_255}e`)).toEqual({
      kind: 'malformed',
      raw: `x@${DOMAIN_255}e`,
      why: 'domain over 255 octets',
    });
  });

  it('keeps the raw input of a malformed address', () => {
    expect(parseRecipient(' no-at-sign ')).toEqual({
      kind: 'malformed',
      raw: 'no-at-sign',
      why: 'no local-part or domain',
    });
  });
});

describe('toAsciiDomain', () => {
  it.each<[string, string]>([
    ['Example.TEST', 'example.test'],
    ['example.test.', 'example.test'],
    [' example.test ', 'example.test'],
    ['bücher.test', 'xn--bcher-kva.test'],
    ['XN--BCHER-KVA.test', 'xn--bcher-kva.test'],
    ['[127.0.0.1]', '[127.0.0.1]'],
  ])('%j → %j', (input, out) => {
    expect(toAsciiDomain(input)).toBe(out);
  });
});

describe('normalizeSender', () => {
  it.each<[string | false | undefined, string]>([
    ['', ''],
    [false, ''],
    [undefined, ''],
    ['Bob@Example.TEST', 'Bob@example.test'],
    ['bob@bücher.test', 'bob@xn--bcher-kva.test'],
    ['no-domain', 'no-domain'],
  ])('%j → %j', (input, out) => {
    expect(normalizeSender(input)).toBe(out);
  });
});

describe('isMailboxLocalPart: one mailbox name (RFC 5321 dot-atom or quoted string), never a list', () => {
  it.each<[string, boolean]>([
    ['jane', true],
    ['jane.doe', true],
    ["o'brien+tag", true],
    ['bounces+4711=x.test', true],
    ['jürgen', true],
    ['"jane doe"', true],
    ['"root,admin"', true],
    ['"a\\"b"', true],
    ['root,admin,x', false],
    ['a:b', false],
    ['a;b', false],
    ['a b', false],
    ['.jane', false],
    ['jane.', false],
    ['jane..doe', false],
    ['"open', false],
    ['"a"b"', false],
    ['', false],
  ])('%j → %s', (local, ok) => {
    expect(isMailboxLocalPart(local)).toBe(ok);
  });
});
