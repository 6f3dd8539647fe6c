// SPF and DMARC through mailauth with an offline resolver: results, alignment, and DNS failures as temperror.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isAligned } from '../../src/sender-auth/align.js';
import type { DnsResolver } from '../../src/sender-auth/dns.js';
import { verifySenderAuth, type SenderAuthInput } from '../../src/sender-auth/verify.js';

const dnsError = (code: string): Error => Object.assign(new Error(code), { code });

function fakeDns(txt: Record<string, string | Error>, opts: { hang?: boolean } = {}): DnsResolver {
  return async (name, rrtype) => {
    if (opts.hang) return new Promise(() => undefined);
    const v = rrtype === 'TXT' ? txt[name] : undefined;
    if (v instanceof Error) throw v;
    if (v === undefined) throw dnsError('ENOTFOUND');
    return [[v]];
  };
}

const message = (from: string): string =>
  `From: <${from}>\r\nTo: typo@example.test\r\nSubject: hi\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n`;

function input(over: Partial<SenderAuthInput> & { from?: string } = {}): SenderAuthInput {
  const { from = 'jane@shop.test', ...rest } = over;
  return {
    mode: 'spf',
    sender: 'jane@shop.test',
    ip: '192.0.2.7',
    helo: 'mail.shop.test',
    hostname: 'mx.test',
    openMessage: () => Readable.from([message(from)]),
    ...rest,
  };
}

describe('SPF', () => {
  it('pass', async () => {
    expect(await verifySenderAuth(input(), fakeDns({ 'shop.test': 'v=spf1 ip4:192.0.2.0/24 -all' }))).toEqual({
      spf: 'pass',
      dmarc: 'skipped',
    });
  });
  it('fail and softfail', async () => {
    expect(await verifySenderAuth(input(), fakeDns({ 'shop.test': 'v=spf1 -all' }))).toEqual({
      spf: 'fail',
      dmarc: 'skipped',
    });
    expect(await verifySenderAuth(input(), fakeDns({ 'shop.test': 'v=spf1 ~all' }))).toEqual({
      spf: 'softfail',
      dmarc: 'skipped',
    });
  });
  it('no SPF record → none', async () => {
    expect(await verifySenderAuth(input(), fakeDns({}))).toEqual({ spf: 'none', dmarc: 'skipped' });
  });
  it('a mapped IPv4 client address is checked as IPv4', async () => {
    expect(
      await verifySenderAuth(input({ ip: '::ffff:192.0.2.7' }), fakeDns({ 'shop.test': 'v=spf1 ip4:192.0.2.7 -all' })),
    ).toEqual({ spf: 'pass', dmarc: 'skipped' });
  });
  it('DNS error → temperror, never a throw', async () => {
    expect(await verifySenderAuth(input(), fakeDns({ 'shop.test': dnsError('ESERVFAIL') }))).toEqual({
      spf: 'temperror',
      dmarc: 'skipped',
    });
    expect(await verifySenderAuth(input(), async () => Promise.reject(new Error('resolver exploded')))).toEqual({
      spf: 'temperror',
      dmarc: 'skipped',
    });
  });
  it('a resolver that never answers → temperror within the deadline', async () => {
    const started = Date.now();
    expect(await verifySenderAuth(input(), fakeDns({}, { hang: true }), 300)).toEqual({
      spf: 'temperror',
      dmarc: 'temperror',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('DMARC', () => {
  const zone = { 'shop.test': 'v=spf1 ip4:192.0.2.7 -all', '_dmarc.shop.test': 'v=DMARC1; p=reject' };

  it('SPF-aligned pass, envelope sender aligned with From:', async () => {
    expect(await verifySenderAuth(input({ mode: 'dmarc' }), fakeDns(zone))).toEqual({
      spf: 'pass',
      dmarc: 'pass',
      aligned: true,
    });
  });
  it('From: of another domain → DMARC of that domain, not aligned', async () => {
    const r = await verifySenderAuth(
      input({ mode: 'dmarc', from: 'ceo@bank.test' }),
      fakeDns({ ...zone, '_dmarc.bank.test': 'v=DMARC1; p=reject' }),
    );
    expect(r).toEqual({ spf: 'pass', dmarc: 'fail', aligned: false });
  });
  it('no DMARC record → none', async () => {
    expect(
      (await verifySenderAuth(input({ mode: 'dmarc' }), fakeDns({ 'shop.test': 'v=spf1 ip4:192.0.2.7 -all' }))).dmarc,
    ).toBe('none');
  });
  it('unreadable message → temperror', async () => {
    expect(await verifySenderAuth(input({ mode: 'dmarc', openMessage: () => null }), fakeDns(zone))).toEqual({
      spf: 'temperror',
      dmarc: 'temperror',
    });
  });
});

describe('relaxed alignment', () => {
  it.each([
    ['shop.test', 'shop.test', true],
    ['bounces.shop.test', 'shop.test', true],
    ['a.example.co.uk', 'b.example.co.uk', true],
    ['example.co.uk', 'other.co.uk', false],
    ['shop.test', 'bank.test', false],
    ['', 'shop.test', false],
  ])('%s ~ %s → %s', (a, b, expected) => {
    expect(isAligned(a, b)).toBe(expected);
  });
});

describe('dns.timeout bounds each look-up of the check', () => {
  const slow =
    (ms: number): DnsResolver =>
    async (name, rrtype) => {
      await new Promise((r) => setTimeout(r, ms));
      if (rrtype === 'TXT' && name === 'shop.test') return [['v=spf1 ip4:192.0.2.7 -all']];
      throw dnsError('ENOTFOUND');
    };
  it('an answer after 5.5 s counts with dns.timeout 6s (it was cut at 5 s whatever the setting)', async () => {
    expect(await verifySenderAuth(input({ dnsTimeoutMs: 6_000 }), slow(5_500))).toEqual({
      spf: 'pass',
      dmarc: 'skipped',
    });
  }, 15_000);
  it('and with dns.timeout 1s the same answer is too late: temperror', async () => {
    expect(await verifySenderAuth(input({ dnsTimeoutMs: 1_000 }), slow(1_500))).toEqual({
      spf: 'temperror',
      dmarc: 'skipped',
    });
  });
});
