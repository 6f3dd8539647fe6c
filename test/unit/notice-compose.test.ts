// Golden tests of the two notice formats, parsed back with mailparser: structure, DSN fields, headers, text.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simpleParser, type ParsedMail } from 'mailparser';
import { composeNotice, formatNoticeDate, noticeFromAddress, type ComposeInput } from '../../src/notice/compose.js';
import { BUILTIN_TEMPLATES } from '../../src/notice/builtin-templates.js';
import { parseTemplateFile, renderTemplate } from '../../src/notice/render.js';
import { SHIPPED_TEMPLATES_DIR, loadNoticeTemplate } from '../../src/notice/templates.js';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';

const ORIGINAL_HEADERS =
  'Received: from client.test ([192.0.2.7])\r\n\tby mx.test (catchall-guard) with ESMTP id q1;\r\n\tMon, 23 Nov 2026 10:00:00 +0000\r\n' +
  'From: Jane <jane@shop.test>\r\nTo: typo@example.test\r\nSubject: Your repair order 4711\r\nMessage-ID: <order-4711@shop.test>\r\n\r\n';

function entry(over: Partial<QuarantineEntry> = {}): QuarantineEntry {
  return {
    id: '0mhx1q2r3000AbCdEfGh',
    receivedAt: '2026-11-23T10:00:00.000Z',
    expiresAt: '2026-12-07T10:00:00.000Z',
    remoteAddress: '192.0.2.7',
    helo: 'client.test',
    mailFrom: 'jane@shop.test',
    recipients: ['typo@example.test', 'jdoe@example.test'],
    deliveredTo: [],
    size: 2048,
    bodyStored: true,
    messageId: '<order-4711@shop.test>',
    subject: 'Your repair order 4711',
    headerFrom: 'Jane <jane@shop.test>',
    headers: {},
    auth: null,
    kind: 'quarantined',
    access: [],
    notice: { status: 'pending', attempts: 0 },
    ...over,
  };
}

async function input(over: Partial<ComposeInput> = {}): Promise<ComposeInput> {
  return {
    entry: entry(),
    originalHeaders: Buffer.from(ORIGINAL_HEADERS),
    format: 'dsn',
    language: 'en',
    from: 'postmaster',
    hostname: 'mx.example.test',
    template: await loadNoticeTemplate(over.language ?? 'en'),
    date: new Date('2026-11-23T10:00:05Z'),
    ...over,
  };
}

/** The readable text of the notice for entry() in English, as mailparser gives it (golden). */
const EN_TEXT = [
  'This is an automatic notice from the mail server mx.example.test, which receives the mail of example.test. Please do not reply to it.',
  '',
  'Your message "Your repair order 4711" of Monday, 23 November 2026 at 10:00 UTC was sent to the following address(es) at example.test. They do not exist:',
  '',
  '    typo@example.test',
  '    jdoe@example.test',
  '',
  'The message was NOT delivered to anyone, and nobody has read it.',
  '',
  'It is held in quarantine, where nobody reads it, until Monday, 7 December 2026 at 10:00 UTC; then it is deleted automatically.',
  '',
  'If this message was meant for a customer or another person in your records: the address you have for them is wrong. Please correct it, and confirm the new address with them before you send more personal data to it. Until then, every message to this address goes nowhere.',
  '',
  'Otherwise, please ask the person you wanted to write to for their correct address, and send your message again to that address.',
  '',
  'Reference: 0mhx1q2r3000AbCdEfGh',
  '',
].join('\n');

/** The top-level MIME parts of a multipart message, each parsed on its own (mailparser flattens the tree). */
async function parts(raw: Buffer, boundary: string): Promise<{ head: string; parsed: ParsedMail; body: string }[]> {
  const text = raw.toString('latin1');
  const chunks = text.split(`--${boundary}`).slice(1, -1);
  return Promise.all(
    chunks.map(async (c) => {
      const part = c.replace(/^\r\n/, '');
      const [head = '', ...rest] = part.split('\r\n\r\n');
      return {
        head,
        parsed: await simpleParser(Buffer.from(part, 'latin1')),
        body: rest.join('\r\n\r\n').replace(/\r\n$/, ''),
      };
    }),
  );
}

describe('format dsn: RFC 3464 multipart/report', () => {
  it('structure, headers, delivery-status fields and the original headers (golden)', async () => {
    const n = await composeNotice(await input());
    expect(n.envelope).toEqual({ from: '', to: 'jane@shop.test' });
    expect(n.messageId).toBe('<notice-0mhx1q2r3000AbCdEfGh@mx.example.test>');

    const mail = await simpleParser(n.raw);
    const ct = mail.headers.get('content-type') as { value: string; params: Record<string, string> };
    expect(ct.value).toBe('multipart/report');
    expect(ct.params['report-type']).toBe('delivery-status');
    expect(mail.headers.get('auto-submitted')).toBe('auto-replied');
    expect(mail.headers.get('x-auto-response-suppress')).toBe('All');
    expect(mail.inReplyTo).toBe('<order-4711@shop.test>');
    expect(mail.references).toBe('<order-4711@shop.test>');
    expect(mail.messageId).toBe('<notice-0mhx1q2r3000AbCdEfGh@mx.example.test>');
    expect(mail.from?.value).toEqual([{ name: 'Mail Delivery System', address: 'postmaster@example.test' }]);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value : null).toEqual([
      { name: '', address: 'jane@shop.test' },
    ]);
    expect(mail.subject).toBe('Undeliverable: Your repair order 4711');
    expect(mail.date?.toISOString()).toBe('2026-11-23T10:00:05.000Z');

    const p = await parts(n.raw, ct.params['boundary'] ?? '');
    expect(p.map((x) => x.parsed.headers.get('content-type'))).toEqual([
      { value: 'text/plain', params: { charset: 'utf-8' } },
      { value: 'message/delivery-status', params: {} },
      { value: 'text/rfc822-headers', params: {} },
    ]);

    const [readable, status, headers] = p;
    expect(readable?.head).toBe(
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable',
    );
    expect(readable?.parsed.text).toBe(`${EN_TEXT}\n`);

    expect(status?.head).toBe(
      'Content-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n' +
        'Content-Transfer-Encoding: 7bit\r\nContent-Disposition: attachment',
    );
    expect(status?.body).toBe(
      [
        'Reporting-MTA: dns; mx.example.test',
        'Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0000',
        '',
        'Final-Recipient: rfc822; typo@example.test',
        'Action: failed',
        'Status: 5.1.1',
        'Diagnostic-Code: smtp; 550 5.1.1 <typo@example.test>: recipient address rejected: user unknown',
        '',
        'Final-Recipient: rfc822; jdoe@example.test',
        'Action: failed',
        'Status: 5.1.1',
        'Diagnostic-Code: smtp; 550 5.1.1 <jdoe@example.test>: recipient address rejected: user unknown',
        '',
      ].join('\r\n'),
    );

    expect(headers?.head).toBe(
      'Content-Type: text/rfc822-headers\r\nContent-Description: Header lines of the undelivered message\r\n' +
        'Content-Transfer-Encoding: 7bit\r\nContent-Disposition: attachment',
    );
    expect(headers?.body.replace(/(\r\n)+$/, '')).toBe(ORIGINAL_HEADERS.replace(/(\r\n)+$/, ''));
    // mailparser sees the two machine parts as attachments and only the readable text as text
    expect(mail.attachments.map((a) => a.contentType)).toEqual(['message/delivery-status', 'text/rfc822-headers']);
    expect(mail.text).toBe(EN_TEXT);
  });

  it('8-bit original headers are sent quoted-printable, so no 8BITMIME peer is needed', async () => {
    const n = await composeNotice(
      await input({ originalHeaders: Buffer.from('Subject: Gr\xfc\xdfe\r\n\r\n', 'latin1') }),
    );
    const text = n.raw.toString('latin1');
    expect(/[\x80-\xff]/.test(text)).toBe(false);
    const ct = (await simpleParser(n.raw)).headers.get('content-type') as { params: Record<string, string> };
    const headers = (await parts(n.raw, ct.params['boundary'] ?? ''))[2];
    expect(headers?.head).toBe(
      'Content-Type: text/rfc822-headers\r\nContent-Description: Header lines of the undelivered message\r\n' +
        'Content-Transfer-Encoding: quoted-printable\r\nContent-Disposition: attachment',
    );
    expect(headers?.body).toBe('Subject: Gr=FC=DFe\r\n\r\n');
  });

  it('the readable part says all SPEC §6 asks for', async () => {
    const mail = await simpleParser((await composeNotice(await input())).raw);
    const text = mail.text ?? '';
    expect(text).toContain('    typo@example.test\n    jdoe@example.test');
    expect(text).toContain('at example.test. They do not exist');
    expect(text).toContain('NOT delivered to anyone, and nobody has read it.');
    expect(text).toContain(
      `until ${formatNoticeDate('2026-12-07T10:00:00.000Z', 'en')}; then it is deleted automatically`,
    );
    expect(text).toContain('the address you have for them is wrong. Please correct it, and confirm the new address');
    expect(text).not.toContain('Questions about this notice');
    expect(text).toContain('until Monday, 7 December 2026 at 10:00 UTC');
    expect(text).toContain('ask the person you wanted to write to for their correct address');
    expect(text).toContain('"Your repair order 4711"');
    expect(text).toContain('Reference: 0mhx1q2r3000AbCdEfGh');
    expect(text).not.toContain('{{');
    expect(text).not.toContain('Only its header lines');
    expect(text).toBe(EN_TEXT);
  });

  it('storeBody false: the text says only the header lines were kept', async () => {
    const mail = await simpleParser((await composeNotice(await input({ entry: entry({ bodyStored: false }) }))).raw);
    expect(mail.text).toContain(
      'Only its header lines (sender, recipients, subject, date) were kept, not its content.',
    );
  });

  it('a mixed transaction: the text does not claim that nobody received it', async () => {
    const mail = await simpleParser(
      (await composeNotice(await input({ entry: entry({ deliveredTo: ['alice@example.test'] }) }))).raw,
    );
    expect(mail.text).toContain('NOT delivered to the address(es) above, and nobody has read it there');
    expect(mail.text).toContain('Your other recipients, whose addresses exist, did receive it.');
    expect(mail.text).not.toContain('NOT delivered to anyone');
  });

  it('no readable original headers → the report has the text and delivery-status parts only', async () => {
    const mail = await simpleParser((await composeNotice(await input({ originalHeaders: null }))).raw);
    expect(mail.attachments.map((a) => a.contentType)).toEqual(['message/delivery-status']);
  });
});

describe('format plain', () => {
  it('text only, the same headers, nothing of the original but its subject', async () => {
    const n = await composeNotice(await input({ format: 'plain' }));
    const mail = await simpleParser(n.raw);
    expect((mail.headers.get('content-type') as { value: string }).value).toBe('text/plain');
    expect(mail.attachments).toEqual([]);
    expect(mail.headers.get('auto-submitted')).toBe('auto-replied');
    expect(mail.inReplyTo).toBe('<order-4711@shop.test>');
    expect(mail.text).toBe(EN_TEXT);
    expect(n.raw.toString()).not.toContain('Received: from client.test');
  });

  it('no original Message-ID → no In-Reply-To/References', async () => {
    const mail = await simpleParser(
      (await composeNotice(await input({ format: 'plain', entry: entry({ messageId: null }) }))).raw,
    );
    expect(mail.inReplyTo).toBeUndefined();
    expect(mail.references).toBeUndefined();
  });

  it('no subject → "Undeliverable" alone', async () => {
    const mail = await simpleParser(
      (await composeNotice(await input({ format: 'plain', entry: entry({ subject: null }) }))).raw,
    );
    expect(mail.subject).toBe('Undeliverable');
    expect(mail.text).toBe(EN_TEXT.replace('Your message "Your repair order 4711" of', 'Your message of'));
  });
});

describe('German', () => {
  it('subject, sender name and text in German', async () => {
    const mail = await simpleParser((await composeNotice(await input({ language: 'de' }))).raw);
    expect(mail.subject).toBe('Unzustellbar: Your repair order 4711');
    expect(mail.from?.value[0]?.name).toBe('Mail-Zustellsystem');
    const text = mail.text ?? '';
    expect(text).toContain('bei example.test. Es gibt sie nicht');
    expect(text).toContain('NIEMANDEM zugestellt, und niemand hat sie gelesen.');
    expect(text).toContain('Montag, 7. Dezember 2026');
    expect(text).toContain('automatisch gelöscht');
    expect(text).toContain('nach ihrer richtigen Adresse');
    expect(text).toBe(
      [
        'Dies ist eine automatische Benachrichtigung des Mailservers mx.example.test, der die E-Mail für example.test annimmt. Bitte antworten Sie nicht darauf.',
        '',
        'Ihre Nachricht „Your repair order 4711“ vom Montag, 23. November 2026 um 10:00 UTC ging an folgende Adresse(n) bei example.test. Es gibt sie nicht:',
        '',
        '    typo@example.test',
        '    jdoe@example.test',
        '',
        'Die Nachricht wurde NIEMANDEM zugestellt, und niemand hat sie gelesen.',
        '',
        'Sie wird bis Montag, 7. Dezember 2026 um 10:00 UTC in Quarantäne aufbewahrt, wo niemand sie liest, und danach automatisch gelöscht.',
        '',
        'Falls die Nachricht für einen Kunden oder eine andere Person in Ihren Unterlagen bestimmt war: Die dort gespeicherte Adresse ist falsch. Bitte korrigieren Sie sie und lassen Sie sich die neue Adresse bestätigen, bevor Sie weitere persönliche Daten daran senden. Bis dahin geht jede Nachricht an diese Adresse ins Leere.',
        '',
        'Andernfalls fragen Sie bitte die Person, der Sie schreiben wollten, nach ihrer richtigen Adresse, und senden Sie Ihre Nachricht erneut an diese Adresse.',
        '',
        'Referenz: 0mhx1q2r3000AbCdEfGh',
        '',
      ].join('\n'),
    );
  });
});

describe('From: address', () => {
  it("a local-part is taken at the (first) unknown recipient's domain; a full address as it is", () => {
    expect(noticeFromAddress('postmaster', ['typo@example.test'])).toBe('postmaster@example.test');
    expect(noticeFromAddress('mailer-daemon', ['a@xn--bcher-kva.test', 'b@other.test'])).toBe(
      'mailer-daemon@xn--bcher-kva.test',
    );
    expect(noticeFromAddress('notices@guard.example.org', ['typo@example.test'])).toBe('notices@guard.example.org');
  });
});

describe('templates', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('the built-in copies equal the shipped files', () => {
    expect(readFileSync(path.join(SHIPPED_TEMPLATES_DIR, 'en.txt'), 'utf8')).toBe(BUILTIN_TEMPLATES.en);
    expect(readFileSync(path.join(SHIPPED_TEMPLATES_DIR, 'de.txt'), 'utf8')).toBe(BUILTIN_TEMPLATES.de);
  });

  it('a file in templatesDir wins; without a Subject line it keeps the shipped subject', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-tpl-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'en.txt'), 'Hello {{sender}}, {{recipients}} is wrong. Kept until {{expiresAt}}.\n');
    const t = await loadNoticeTemplate('en', dir);
    expect(t.body).toBe('Hello {{sender}}, {{recipients}} is wrong. Kept until {{expiresAt}}.');
    expect(t.subject).toBe('Undeliverable{{#subject}}: {{subject}}{{/subject}}');
    // German is not overridden there: the shipped one is used
    expect((await loadNoticeTemplate('de', dir)).subject).toBe('Unzustellbar{{#subject}}: {{subject}}{{/subject}}');
  });

  it('an override with its own Subject line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cg-tpl-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'de.txt'), 'Subject: Adresse unbekannt: {{subject}}\r\n\r\nText.\r\n');
    expect(await loadNoticeTemplate('de', dir)).toEqual({ subject: 'Adresse unbekannt: {{subject}}', body: 'Text.' });
  });

  it('shipped files missing (config dir mounted over them) → the built-in text', async () => {
    const t = await loadNoticeTemplate('en', undefined, '/nonexistent-dir');
    expect(t.body).toBe(parseTemplateFile(BUILTIN_TEMPLATES.en).body);
  });

  it('render: variables, sections, inverted sections, unknown names empty', () => {
    const tpl = 'A {{x}}{{#flag}} on{{/flag}}{{^flag}} off{{/flag}}{{#empty}}!{{/empty}} {{nope}}.';
    expect(renderTemplate(tpl, { x: '1', flag: true, empty: '' })).toBe('A 1 on .');
    expect(renderTemplate(tpl, { x: '2', flag: false })).toBe('A 2 off .');
  });
});

describe('notices.contact', () => {
  it("names whom the sender's organisation can write to, in English and German", async () => {
    const en = await simpleParser((await composeNotice(await input({ contact: 'privacy@example.test' }))).raw);
    expect(en.text).toBe(
      EN_TEXT.replace(
        'Reference:',
        'Questions about this notice, for example from your data-protection officer: privacy@example.test\n\nReference:',
      ),
    );
    const de = await simpleParser(
      (await composeNotice(await input({ language: 'de', contact: 'privacy@example.test' }))).raw,
    );
    expect(de.text).toContain(
      'Fragen zu dieser Benachrichtigung, etwa von Ihrem Datenschutzbeauftragten: privacy@example.test\n\nReferenz:',
    );
  });
});
