// message/trace-header: the Received: header (RFC 5321 §4.4), and no header injection through it.
import { describe, expect, it } from 'vitest';
import { formatRfc5322Date } from '../../src/message/date.js';
import { composeReceivedHeader, type TraceInfo } from '../../src/message/trace-header.js';

const DATE = new Date(Date.UTC(2026, 10, 23, 10, 0, 0));

function info(over: Partial<TraceInfo> = {}): TraceInfo {
  return {
    helo: 'client.test',
    clientHostname: '[127.0.0.1]',
    remoteAddress: '127.0.0.1',
    hostname: 'mx.example.test',
    protocol: 'ESMTP',
    qid: '0abc123def000xyzXYZ_-',
    recipients: ['alice@example.test'],
    date: DATE,
    ...over,
  };
}

/** The header's lines: the first is `Received:`, the others are folded continuations. */
function assertSingleHeader(h: string): void {
  expect(h.endsWith('\r\n')).toBe(true);
  // every LF is part of a CRLF, every CR is followed by LF
  expect(h.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  const lines = h.slice(0, -2).split('\r\n');
  expect(lines[0]).toMatch(/^Received: /);
  for (const l of lines.slice(1)) expect(l).toMatch(/^\t\S/);
  // only printable US-ASCII and the folding tab
  expect(h).toMatch(/^[\x20-\x7e\t\r\n]*$/);
}

describe('composeReceivedHeader', () => {
  it('has the RFC 5321 format, with a for clause for a single recipient', () => {
    const h = composeReceivedHeader(info());
    expect(h).toBe(
      'Received: from client.test ([127.0.0.1])\r\n' +
        '\tby mx.example.test (catchall-guard) with ESMTP id 0abc123def000xyzXYZ_-\r\n' +
        '\tfor <alice@example.test>;\r\n' +
        '\tMon, 23 Nov 2026 10:00:00 +0000\r\n',
    );
    assertSingleHeader(h);
  });

  it('names the reverse-DNS host when it differs from the bracketed address', () => {
    expect(composeReceivedHeader(info({ clientHostname: 'mail.client.test' }))).toBe(
      'Received: from client.test (mail.client.test [127.0.0.1])\r\n' +
        '\tby mx.example.test (catchall-guard) with ESMTP id 0abc123def000xyzXYZ_-\r\n' +
        '\tfor <alice@example.test>;\r\n' +
        '\tMon, 23 Nov 2026 10:00:00 +0000\r\n',
    );
  });

  it('strips the IPv4-mapped IPv6 prefix', () => {
    expect(composeReceivedHeader(info({ remoteAddress: '::ffff:192.0.2.7', clientHostname: '[192.0.2.7]' }))).toBe(
      'Received: from client.test ([192.0.2.7])\r\n' +
        '\tby mx.example.test (catchall-guard) with ESMTP id 0abc123def000xyzXYZ_-\r\n' +
        '\tfor <alice@example.test>;\r\n' +
        '\tMon, 23 Nov 2026 10:00:00 +0000\r\n',
    );
  });

  it('omits the for clause with several recipients (Bcc privacy) and with none', () => {
    for (const recipients of [['a@example.test', 'b@example.test'], []]) {
      const h = composeReceivedHeader(info({ recipients }));
      expect(h).not.toMatch(/for </);
      expect(h).toBe(
        'Received: from client.test ([127.0.0.1])\r\n\tby mx.example.test (catchall-guard) with ESMTP id 0abc123def000xyzXYZ_-;\r\n\tMon, 23 Nov 2026 10:00:00 +0000\r\n',
      );
    }
  });

  it.each(['SMTP', 'ESMTP', 'ESMTPS'] as const)('names the protocol %s', (protocol) => {
    expect(composeReceivedHeader(info({ protocol }))).toBe(
      'Received: from client.test ([127.0.0.1])\r\n' +
        `\tby mx.example.test (catchall-guard) with ${protocol} id 0abc123def000xyzXYZ_-\r\n` +
        '\tfor <alice@example.test>;\r\n' +
        '\tMon, 23 Nov 2026 10:00:00 +0000\r\n',
    );
  });

  it('an empty HELO becomes "unknown"', () => {
    expect(composeReceivedHeader(info({ helo: '' }))).toBe(
      'Received: from unknown ([127.0.0.1])\r\n' +
        '\tby mx.example.test (catchall-guard) with ESMTP id 0abc123def000xyzXYZ_-\r\n' +
        '\tfor <alice@example.test>;\r\n' +
        '\tMon, 23 Nov 2026 10:00:00 +0000\r\n',
    );
  });

  it.each<[string, string, string]>([
    // [label, HELO, what the header names: the visible US-ASCII characters of it, nothing else]
    ['CRLF + header', 'evil.test\r\nX-Injected: yes', 'evil.testX-Injected:yes'],
    ['bare LF + header', 'evil.test\nX-Injected: yes', 'evil.testX-Injected:yes'],
    ['bare CR', 'evil.test\rX-Injected: yes', 'evil.testX-Injected:yes'],
    ['CRLF CRLF + body', 'evil.test\r\n\r\nInjected body', 'evil.testInjectedbody'],
    ['folding attempt', 'evil.test\r\n\tby fake.example (Postfix)', 'evil.testbyfake.example(Postfix)'],
    ['NUL and escapes', 'evil\x00.test\x1b[2J', 'evil.test[2J'],
    ['Unicode', 'évil.tést\u2028X-Injected: yes', 'vil.tstX-Injected:yes'],
    ['parentheses and spaces', 'evil.test (trusted) by mx.example.test', 'evil.test(trusted)bymx.example.test'],
  ])('a hostile HELO (%s) cannot inject lines or headers', (_label, helo, named) => {
    const h = composeReceivedHeader(info({ helo }));
    assertSingleHeader(h);
    // Received, by, for, date: one header of four lines
    expect(h).toBe(
      `Received: from ${named} ([127.0.0.1])\r\n` +
        '\tby mx.example.test (catchall-guard) with ESMTP id 0abc123def000xyzXYZ_-\r\n' +
        '\tfor <alice@example.test>;\r\n' +
        '\tMon, 23 Nov 2026 10:00:00 +0000\r\n',
    );
  });

  it('a hostile client hostname or recipient cannot inject lines either', () => {
    const h = composeReceivedHeader(
      info({ clientHostname: 'host\r\nX-Injected: 1', recipients: ['a@example.test>\r\nX-Injected: 2'] }),
    );
    assertSingleHeader(h);
    expect(h).toBe(
      'Received: from client.test (hostX-Injected:1 [127.0.0.1])\r\n' +
        '\tby mx.example.test (catchall-guard) with ESMTP id 0abc123def000xyzXYZ_-\r\n' +
        '\tfor <a@example.test>X-Injected:2>;\r\n' +
        '\tMon, 23 Nov 2026 10:00:00 +0000\r\n',
    );
  });

  it('caps an endless HELO', () => {
    const h = composeReceivedHeader(info({ helo: 'a'.repeat(10_000) }));
    assertSingleHeader(h);
    // cut to 255 characters
    expect(h.split('\r\n')[0]).toBe(`Received: from ${'a'.repeat(255)} ([127.0.0.1])`);
  });
});

describe('formatRfc5322Date', () => {
  it.each<[Date, string]>([
    [DATE, 'Mon, 23 Nov 2026 10:00:00 +0000'],
    [new Date(Date.UTC(2025, 0, 1, 0, 0, 0)), 'Wed, 1 Jan 2025 00:00:00 +0000'],
    [new Date(Date.UTC(2024, 1, 29, 23, 59, 59)), 'Thu, 29 Feb 2024 23:59:59 +0000'],
    [new Date(Date.UTC(2030, 11, 31, 5, 6, 7)), 'Tue, 31 Dec 2030 05:06:07 +0000'],
  ])('%s → %s', (d, s) => {
    expect(formatRfc5322Date(d)).toBe(s);
  });
});
