// Issue #9 item 6: 8-bit header bytes are quoted-printable in the notice (three bytes each), so a
// 363 KB message made an 814 KB notice. SPEC §6: at most 256 KiB, the quoted header block cut at a
// field boundary, and the notice says so.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { simpleParser, type ParsedMail } from 'mailparser';
import { composeNotice, headerFieldStarts, MAX_NOTICE_BYTES, type ComposeInput } from '../../src/notice/compose.js';
import { signNotice } from '../../src/notice/dkim-sign.js';
import { loadNoticeTemplate } from '../../src/notice/templates.js';
import type { NoticeLanguage } from '../../src/notice/templates.js';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';

const entry: QuarantineEntry = {
  id: '0mhx1q2r3000AbCdEfGh',
  receivedAt: '2026-11-23T10:00:00.000Z',
  expiresAt: '2026-12-07T10:00:00.000Z',
  remoteAddress: '192.0.2.7',
  helo: 'client.test',
  mailFrom: 'jane@shop.test',
  recipients: ['typo@example.test'],
  deliveredTo: [],
  size: 400_000,
  bodyStored: true,
  messageId: '<order-4711@shop.test>',
  subject: 'Your repair order 4711',
  headerFrom: 'Jane <jane@shop.test>',
  headers: {},
  auth: null,
  kind: 'quarantined',
  access: [],
  notice: { status: 'pending', attempts: 0 },
};

async function input(originalHeaders: Buffer, language: NoticeLanguage = 'en'): Promise<ComposeInput> {
  return {
    entry,
    originalHeaders,
    format: 'dsn',
    language,
    from: 'postmaster',
    hostname: 'mx.example.test',
    template: await loadNoticeTemplate(language),
    date: new Date('2026-11-23T10:00:05Z'),
  };
}

/** ~`bytes` of header fields, most of them 8-bit (UTF-8) and some folded, then the blank line. */
function eightBitHeaderBlock(bytes: number): Buffer {
  const fields: string[] = ['From: Jane <jane@shop.test>\r\n', 'Subject: Grüße\r\n'];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const f =
      i % 3 === 0
        ? `X-Folded-${i}: Größenänderung für ${i}\r\n\tund noch eine Zeile mit Ümlauten äöü ${i}\r\n`
        : `X-Note-${i}: Bestätigung der Rückgabe, Straße ${i}, Grüße aus Köln\r\n`;
    fields.push(f);
    size += Buffer.byteLength(f);
  }
  return Buffer.from(`${fields.join('')}\r\n`, 'utf8');
}

function quotedHeaders(mail: ParsedMail): Buffer | undefined {
  return mail.attachments.find((a) => a.contentType === 'text/rfc822-headers')?.content;
}

describe('notice size (issue #9, item 6)', () => {
  it('a 360 KB 8-bit header block: the notice is at most 256 KiB, quotes whole fields from the top and says it was cut', async () => {
    const original = eightBitHeaderBlock(360_000);
    expect(original.length).toBeGreaterThan(359_000);
    const started = Date.now();
    const n = await composeNotice(await input(original));
    const ms = Date.now() - started;
    console.log(`360 KB 8-bit header block → notice of ${n.raw.length} bytes in ${ms} ms`);
    expect(n.raw.length).toBeLessThanOrEqual(MAX_NOTICE_BYTES);

    const mail = await simpleParser(n.raw);
    const quoted = quotedHeaders(mail);
    expect(quoted).toBeInstanceOf(Buffer);
    const q = quoted ?? Buffer.alloc(0);
    // a prefix of the original that ends where a field ends: the next byte starts a new field
    expect(original.subarray(0, q.length).equals(q)).toBe(true);
    expect(q.subarray(-2).toString()).toBe('\r\n');
    const next = original[q.length];
    expect(next === 0x20 || next === 0x09).toBe(false);
    const total = headerFieldStarts(original).length;
    const kept = headerFieldStarts(q).length;
    expect(kept).toBeLessThan(total);
    // not cut more than needed: 8-bit bytes take three in quoted-printable, so about a third of 256 KiB
    expect(q.length).toBeGreaterThan(60_000);

    expect(mail.text).toContain(
      `The header lines attached below were shortened to keep this report within 256 KiB: they are the first ${kept} header fields of the message.`,
    );
    // unfolded: the composer folds a long header line
    expect(n.raw.toString('latin1').replace(/\r\n[ \t]+/g, ' ')).toContain(
      `Content-Description: Header lines of the undelivered message, shortened: the first ${kept} fields\r\n`,
    );
    expect(ms).toBeLessThan(5_000);
  });

  it('in German too', async () => {
    const mail = await simpleParser((await composeNotice(await input(eightBitHeaderBlock(360_000), 'de'))).raw);
    // the number of fields quoted, as in English
    const quoted = quotedHeaders(mail);
    expect(quoted).toBeInstanceOf(Buffer);
    const kept = headerFieldStarts(quoted ?? Buffer.alloc(0)).length;
    expect(mail.text).toContain(
      `Die Kopfzeilen im Anhang wurden gekürzt, damit dieser Bericht höchstens 256 KiB groß ist: enthalten sind die ersten ${kept} Kopffelder der Nachricht.`,
    );
  });

  it('one field too large for any notice: no header part, and the text says the header lines are missing', async () => {
    const huge = Buffer.from(`X-Huge: ${'ü'.repeat(150_000)}\r\n\r\n`, 'utf8');
    const n = await composeNotice(await input(huge));
    expect(n.raw.length).toBeLessThanOrEqual(MAX_NOTICE_BYTES);
    const mail = await simpleParser(n.raw);
    expect(quotedHeaders(mail)).toBeUndefined();
    expect(mail.attachments.map((a) => a.contentType)).toEqual(['message/delivery-status']);
    expect(mail.text).toContain(
      'The header lines of the message are not attached: with them this report would exceed 256 KiB.',
    );
  });

  it('a header block that fits is quoted whole, without a note', async () => {
    const original = eightBitHeaderBlock(40_000);
    const n = await composeNotice(await input(original));
    const mail = await simpleParser(n.raw);
    expect(
      quotedHeaders(mail)
        ?.toString('utf8')
        .replace(/(\r\n)+$/, ''),
    ).toBe(original.toString('utf8').replace(/(\r\n)+$/, ''));
    expect(mail.text).not.toContain('shortened');
    expect(n.raw.toString('latin1')).toContain('Content-Description: Header lines of the undelivered message\r\n');
  });

  it('headerFieldStarts: folded lines belong to their field, the blank line is no field', () => {
    const block = Buffer.from('A: 1\r\n\tmore\r\nB: 2\r\n more\r\n\tmore\r\nC: 3\r\n\r\n');
    expect(headerFieldStarts(block)).toEqual([0, 13, 33]);
    expect(headerFieldStarts(Buffer.from('A: 1\nB: 2\n'))).toEqual([0, 5]);
  });
});

describe('notice size with a DKIM signature (notices.dkim)', () => {
  it('a notice cut to fit stays within 256 KiB once signed: composition leaves room for the signature', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-dkim-size-'));
    try {
      const key = path.join(dir, 'k.key');
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const n = await composeNotice(await input(eightBitHeaderBlock(360_000)));
      const signed = await signNotice(n.raw, { selector: 'cg2026', privateKey: key });
      if (!signed.ok) throw new Error(`signing failed: ${JSON.stringify(signed)}`);
      expect(signed.raw.subarray(0, 16).toString()).toBe('DKIM-Signature: ');
      expect(signed.raw.length).toBeGreaterThan(n.raw.length);
      expect(signed.raw.length).toBeLessThanOrEqual(MAX_NOTICE_BYTES);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
