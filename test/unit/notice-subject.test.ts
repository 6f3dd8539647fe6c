// Hostile Subject lines: what a sender writes must never break, stretch or smuggle into a notice header.
import { describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { composeNotice } from '../../src/notice/compose.js';
import { parseTemplateFile } from '../../src/notice/render.js';
import { BUILTIN_TEMPLATES } from '../../src/notice/builtin-templates.js';
import {
  MAX_SUBJECT_CHARS,
  decodeEncodedWords,
  sanitizeMessageId,
  sanitizeSubject,
} from '../../src/notice/sanitize.js';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('sanitizeSubject', () => {
  it('CR/LF header injection becomes one line', () => {
    expect(sanitizeSubject('Invoice\r\nBcc: victim@evil.test\r\n\r\nbody')).toBe('Invoice Bcc: victim@evil.test body');
    expect(sanitizeSubject('a\nb\rc')).toBe('a b c');
  });

  it('control, DEL, C1, line-separator and bidi-override characters are removed', () => {
    expect(sanitizeSubject('a\u0000b\u0007c\u001bd\u007fe\u0085f\u2028g\u202eh\u2066i\ufeffj')).toBe(
      'a b c d e f g h i j',
    );
  });

  it('a 10 KB subject is cut to the bound, with an ellipsis', () => {
    const s = sanitizeSubject('x'.repeat(10 * 1024));
    expect([...s].length).toBe(MAX_SUBJECT_CHARS);
    expect(s).toBe(`${'x'.repeat(MAX_SUBJECT_CHARS - 1)}…`);
  });

  it('the cut never splits a surrogate pair', () => {
    const s = sanitizeSubject('😀'.repeat(500));
    expect([...s].length).toBe(MAX_SUBJECT_CHARS);
    expect(s).toBe(`${'😀'.repeat(MAX_SUBJECT_CHARS - 1)}…`);
  });

  it('non-UTF-8 bytes (decoded as U+FFFD) and lone surrogates become "?"', () => {
    const latin1Bytes = Buffer.from([0x52, 0xe9, 0x73, 0x75, 0x6d, 0xe9]); // "Résumé" in Latin-1
    expect(sanitizeSubject(latin1Bytes.toString('utf8'))).toBe('R?sum?');
    expect(sanitizeSubject('a\ud800b\udc00c')).toBe('a?b?c');
  });

  it('RFC 2047 encoded words are decoded, then cleaned: an encoded CRLF cannot survive', () => {
    expect(sanitizeSubject(`=?UTF-8?B?${b64('Hi\r\nBcc: evil@x.test')}?=`)).toBe('Hi Bcc: evil@x.test');
    expect(sanitizeSubject('=?utf-8?Q?Gr=C3=BC=C3=9Fe_=0D=0AX-Evil:_1?=')).toBe('Grüße X-Evil: 1');
    expect(sanitizeSubject('=?ISO-8859-1?Q?R=E9sum=E9?=')).toBe('Résumé');
    expect(decodeEncodedWords('=?UTF-8?B?YQ==?= =?UTF-8?B?Yg==?=')).toBe('ab');
    // an unknown charset stays as written and still cannot carry a control character
    expect(sanitizeSubject('=?x-unknown?B?AAA=?= ok')).toBe('=?x-unknown?B?AAA=?= ok');
  });

  it('empty and null subjects give ""', () => {
    expect(sanitizeSubject(null)).toBe('');
    expect(sanitizeSubject(' \r\n\t ')).toBe('');
  });
});

describe('sanitizeMessageId', () => {
  it.each([
    ['<abc@client.test>', '<abc@client.test>'],
    ['abc@client.test', '<abc@client.test>'],
    ['<a b@c>', null],
    ['<a>\r\nBcc: x@y', null],
    ['<<a@b>>', null],
    [null, null],
    ['', null],
  ])('%j → %j', (input, expected) => {
    expect(sanitizeMessageId(input)).toBe(expected);
  });
});

describe('a hostile subject through the composer', () => {
  const entry = (subject: string): QuarantineEntry => ({
    id: '0abc123def000xyzXYZ12',
    receivedAt: '2026-11-23T10:00:00.000Z',
    expiresAt: '2026-12-07T10:00:00.000Z',
    remoteAddress: '127.0.0.1',
    helo: 'client.test',
    mailFrom: 'jane@shop.test',
    recipients: ['typo@example.test'],
    deliveredTo: [],
    size: 100,
    bodyStored: true,
    messageId: '<orig@shop.test>\r\nBcc: evil@x.test',
    subject,
    headerFrom: 'jane@shop.test',
    headers: {},
    auth: null,
    kind: 'quarantined',
    access: [],
    notice: { status: 'pending', attempts: 0 },
  });
  const template = parseTemplateFile(BUILTIN_TEMPLATES.en);

  it.each([
    ['crlf', 'Order\r\nBcc: victim@evil.test', 'Order Bcc: victim@evil.test'],
    ['encoded crlf', `=?UTF-8?B?${b64('Order\r\nBcc: victim@evil.test')}?=`, 'Order Bcc: victim@evil.test'],
    ['10 KB', 'A'.repeat(10 * 1024), `${'A'.repeat(MAX_SUBJECT_CHARS - 1)}…`],
    ['bidi and NUL', 'safe\u202etxt.exe\u0000', 'safe txt.exe'],
  ])('%s: the notice has exactly one Subject, no Bcc, a bounded one-line value', async (_name, subject, shown) => {
    const n = await composeNotice({
      entry: entry(subject),
      originalHeaders: Buffer.from('Subject: x\r\n\r\n'),
      format: 'plain',
      language: 'en',
      from: 'postmaster',
      hostname: 'mx.test',
      template: { subject: template.subject ?? '', body: template.body },
      date: new Date('2026-11-23T10:05:00Z'),
    });
    const head = n.raw.toString('latin1').split('\r\n\r\n')[0] ?? '';
    expect(head).not.toMatch(/^Bcc:/im);
    expect(head.match(/^Subject:/gim)).toHaveLength(1);
    // the invalid original Message-ID is left out rather than repeated
    expect(head).not.toMatch(/^In-Reply-To:/im);
    const parsed = await simpleParser(n.raw);
    expect(parsed.subject).toBe(`Undeliverable: ${shown}`);
    expect(parsed.subject).not.toMatch(/[\u0000-\u001f\u007f\u202e]/);
    expect([...(parsed.subject ?? '')].length).toBeLessThanOrEqual('Undeliverable: '.length + MAX_SUBJECT_CHARS);
    expect(parsed.bcc).toBeUndefined();
  });
});
