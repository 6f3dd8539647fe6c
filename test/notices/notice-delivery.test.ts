// A message quarantined through the running app → its notice reaches a real SMTP sink: null sender,
// the right headers, the original headers but never the body; suppression rules and the throttle end to end.
import { afterEach, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { queuedId } from '../helpers/files.js';
import { sendVerbatim } from '../helpers/smtp-client.js';
import { startSink, type UpstreamSink } from '../helpers/upstream-sink.js';
import {
  markedMessage,
  noticeSite,
  runApp,
  smarthost,
  uniqueMarker,
  type NoticeSite,
  type RunningApp,
} from './notice-app.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(
  notices: (sinkPort: number) => Record<string, unknown>,
): Promise<{ sink: UpstreamSink; site: NoticeSite; t: RunningApp }> {
  const sink = await startSink('accept');
  cleanup.push(() => sink.close());
  const site = noticeSite(notices(sink.port));
  cleanup.push(() => site.remove());
  const t = await runApp(site);
  cleanup.push(() => t.stop());
  return { sink, site, t };
}

async function quarantine(t: RunningApp, opts: { from?: string; to?: string[]; raw: string }): Promise<string> {
  const r = await sendVerbatim(t.port, {
    from: opts.from ?? 'jane@client.test',
    to: opts.to ?? ['typo@example.test'],
    raw: opts.raw,
  });
  expect(r.code).toBe(250);
  return queuedId(r.response);
}

describe('a notice for a quarantined message', () => {
  it('a message without a blank line after its headers: the body lines are not quoted in the notice', async () => {
    const { sink, t } = await setup((p) => smarthost(p));
    const marker = uniqueMarker();
    // header fields, then body lines with no blank line between them: the body starts at the first non-field line
    const raw = `From: Jane <jane@client.test>\r\nSubject: no separator\r\nMessage-ID: <nosep@client.test>\r\nThis is the secret body ${marker}\r\ncard 4111-1111-1111-1111\r\n`;
    await quarantine(t, { raw });
    const [m] = await sink.waitForMessages(1);
    const text = m?.raw.toString('latin1') ?? '';
    expect(text).toContain('Subject: no separator');
    expect(text).not.toContain(marker);
    expect(text).not.toContain('4111-1111');
  });

  it('arrives with MAIL FROM:<>, the SPEC §6 headers, the original headers, and without the body', async () => {
    const { sink, site, t } = await setup((p) => smarthost(p));
    const marker = uniqueMarker();
    const before = Date.now();
    const qid = await quarantine(t, {
      raw: markedMessage(marker, { subject: 'Repair order 4711', messageId: '<order-4711@client.test>' }),
    });

    const [m] = await sink.waitForMessages(1);
    expect(m?.from).toBe('');
    expect(m?.to).toEqual(['jane@client.test']);
    const raw = m?.raw ?? Buffer.alloc(0);
    // the body's marker is nowhere in the notice, in no encoding: the body was never read
    for (const enc of ['latin1', 'base64'] as const)
      expect(raw.toString('latin1')).not.toContain(Buffer.from(marker).toString(enc));
    expect(raw.toString('latin1')).not.toContain('Secret Lane');

    const mail = await simpleParser(raw);
    expect(
      (mail.headers.get('content-type') as { value: string; params: Record<string, string> }).params['report-type'],
    ).toBe('delivery-status');
    expect(mail.headers.get('auto-submitted')).toBe('auto-replied');
    expect(mail.inReplyTo).toBe('<order-4711@client.test>');
    expect(mail.references).toBe('<order-4711@client.test>');
    expect(mail.from?.value[0]?.address).toBe('postmaster@example.test');
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]?.address : null).toBe('jane@client.test');
    expect(mail.messageId).toBe(`<notice-${qid}@mx.test.invalid>`);
    expect(mail.subject).toBe('Undeliverable: Repair order 4711');
    expect(mail.text).toContain('typo@example.test');
    const headersPart =
      mail.attachments.find((a) => a.contentType === 'text/rfc822-headers')?.content.toString('utf8') ?? '';
    expect(headersPart).toContain('Subject: Repair order 4711');
    expect(headersPart).toContain(`with ESMTP id ${qid}`);
    expect(headersPart).not.toContain('Dear customer');
    expect(mail.attachments.find((a) => a.contentType === 'message/delivery-status')?.content.toString()).toContain(
      'Final-Recipient: rfc822; typo@example.test',
    );

    const e = await t.events.waitFor('notice', (x) => x.qid === qid && x.status === 'sent');
    const after = Date.now();
    expect(e).toEqual({ event: 'notice', qid, to: 'jane@client.test', status: 'sent', attempts: 1 });
    // sent while this test waited for it
    const notice = site.entry(qid).notice;
    const sentAt = Date.parse(notice.sentAt ?? '');
    expect(sentAt).toBeGreaterThanOrEqual(before);
    expect(sentAt).toBeLessThanOrEqual(after);
    expect(notice).toEqual({
      status: 'sent',
      attempts: 1,
      sentAt: new Date(sentAt).toISOString(),
      to: 'jane@client.test',
    });
    expect(t.events.lines.some((l) => l.includes('Secret Lane'))).toBe(false);
  });

  it('one notice for a mixed transaction lists every unknown address; the known recipient is delivered', async () => {
    const { sink, t } = await setup((p) => smarthost(p, { format: 'plain' }));
    await quarantine(t, {
      to: ['alice@example.test', 'typo1@example.test', 'typo2@example.test'],
      raw: markedMessage(uniqueMarker()),
    });
    const [m] = await sink.waitForMessages(1);
    const mail = await simpleParser(m?.raw ?? '');
    expect(mail.text).toContain('    typo1@example.test\n    typo2@example.test');
    expect(mail.text).not.toContain('alice@');
    expect(mail.attachments).toEqual([]);
  });

  it('German, from a full address', async () => {
    const { sink, t } = await setup((p) => smarthost(p, { language: 'de', from: 'notices@guard.example.org' }));
    await quarantine(t, { raw: markedMessage(uniqueMarker(), { subject: 'Grüße' }) });
    const mail = await simpleParser((await sink.waitForMessages(1))[0]?.raw ?? '');
    expect(mail.subject).toBe('Unzustellbar: Grüße');
    expect(mail.from?.value[0]).toEqual({ name: 'Mail-Zustellsystem', address: 'notices@guard.example.org' });
    expect(mail.text).toContain('Die Nachricht wurde NIEMANDEM zugestellt, und niemand hat sie gelesen.');
  });

  it('a hostile encoded Subject cannot inject a header into the notice', async () => {
    const { sink, t } = await setup((p) => smarthost(p));
    const evil = Buffer.from('Order\r\nBcc: victim@evil.test', 'utf8').toString('base64');
    await quarantine(t, { raw: markedMessage(uniqueMarker(), { subject: `=?UTF-8?B?${evil}?=` }) });
    const raw = (await sink.waitForMessages(1))[0]?.raw ?? Buffer.alloc(0);
    const head = raw.toString('latin1').split('\r\n\r\n')[0] ?? '';
    expect(head).not.toMatch(/^Bcc:/im);
    expect((await simpleParser(raw)).subject).toBe('Undeliverable: Order Bcc: victim@evil.test');
  });

  it('a quoted local-part sender gets exactly one RCPT, the sender as given', async () => {
    const { sink, site, t } = await setup((p) => smarthost(p));
    const from = '"jane\\"doe"@client.test';
    const qid = await quarantine(t, { from, raw: markedMessage(uniqueMarker()) });
    const [m] = await sink.waitForMessages(1);
    expect(m?.from).toBe('');
    expect(m?.to).toEqual([from]);
    expect(await t.events.waitFor('notice', (x) => x.qid === qid && x.status === 'sent')).toEqual({
      event: 'notice',
      qid,
      to: from,
      status: 'sent',
      attempts: 1,
    });
    expect(site.entry(qid).notice).toMatchObject({ status: 'sent', attempts: 1, to: from });
  });

  it('asks for NOTIFY=NEVER where the peer offers DSN', async () => {
    const seen: { mailFrom: string; notify: string[] }[] = [];
    const server = new SMTPServer({
      authOptional: true,
      hideDSN: false,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onData(stream, session, cb) {
        stream.resume();
        stream.on('end', () => {
          const rcpt = session.envelope.rcptTo[0] as unknown as { dsn?: { notify?: string[] } };
          seen.push({
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '(false)',
            notify: rcpt.dsn?.notify ?? [],
          });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const site = noticeSite(smarthost((server.server.address() as AddressInfo).port));
    cleanup.push(() => site.remove());
    const t = await runApp(site);
    cleanup.push(() => t.stop());
    const qid = await quarantine(t, { raw: markedMessage(uniqueMarker()) });
    await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent');
    expect(seen).toEqual([{ mailFrom: '', notify: ['NEVER'] }]);
  });
});

describe('no notice (SPEC §6), recorded with its reason', () => {
  it.each<[string, 'dsn' | 'plain', string, Record<string, string>, string]>([
    ['MAILER-DAEMON', 'dsn', 'MAILER-DAEMON@client.test', {}, 'mailer-daemon-sender'],
    ['Auto-Submitted: auto-replied', 'dsn', 'jane@client.test', { 'Auto-Submitted': 'auto-replied' }, 'auto-submitted'],
    [
      'X-Auto-Response-Suppress: All',
      'dsn',
      'jane@client.test',
      { 'X-Auto-Response-Suppress': 'All' },
      'x-auto-response-suppress',
    ],
    [
      'X-Auto-Response-Suppress: NDR',
      'dsn',
      'jane@client.test',
      { 'X-Auto-Response-Suppress': 'NDR' },
      'x-auto-response-suppress',
    ],
    ['noreply (plain)', 'plain', 'no-reply@client.test', {}, 'noreply-sender'],
    [
      'Auto-Submitted: auto-generated (plain)',
      'plain',
      'jane@client.test',
      { 'Auto-Submitted': 'auto-generated' },
      'auto-submitted',
    ],
    ['Precedence: bulk (plain)', 'plain', 'jane@client.test', { Precedence: 'bulk' }, 'precedence'],
    ['List-Id (plain)', 'plain', 'jane@client.test', { 'List-Id': '<news.client.test>' }, 'list-id'],
    [
      'List-Unsubscribe (plain)',
      'plain',
      'jane@client.test',
      { 'List-Unsubscribe': '<mailto:leave@client.test>' },
      'list-unsubscribe',
    ],
    ['sender read as an address list (root,admin,x@)', 'dsn', 'root,admin,x@attacker.test', {}, 'invalid-sender'],
    ['sender read as a group (a:b@)', 'dsn', 'a:b@attacker.test', {}, 'invalid-sender'],
    [
      'sender read as 80 addresses',
      'dsn',
      `${Array.from({ length: 80 }, (_, i) => `u${i}`).join(',')}@attacker.test`.slice(-252),
      {},
      'invalid-sender',
    ],
  ])('%s → suppressed', async (_name, format, from, headers, reason) => {
    const { sink, site, t } = await setup((p) => smarthost(p, { format }));
    const qid = await quarantine(t, { from, raw: markedMessage(uniqueMarker(), { headers }) });
    const e = await t.events.waitFor('notice', (x) => x.qid === qid);
    expect(e).toEqual({ event: 'notice', qid, to: from, status: 'suppressed', reason });
    expect(site.entry(qid).notice).toEqual({ status: 'suppressed', reason, attempts: 0, to: from });
    expect(sink.messages).toEqual([]);
  });

  it('per-sender-interval: a second message from the same sender to the same unknown address', async () => {
    const { sink, site, t } = await setup((p) => smarthost(p));
    const first = await quarantine(t, { raw: markedMessage(uniqueMarker()) });
    await t.events.waitFor('notice', (x) => x.qid === first && x.status === 'sent');
    const second = await quarantine(t, { raw: markedMessage(uniqueMarker()) });
    expect(await t.events.waitFor('notice', (x) => x.qid === second)).toEqual({
      event: 'notice',
      qid: second,
      to: 'jane@client.test',
      status: 'suppressed',
      reason: 'per-sender-interval',
    });
    expect(site.entry(second).notice).toEqual({
      status: 'suppressed',
      reason: 'per-sender-interval',
      attempts: 0,
      to: 'jane@client.test',
    });
    // another unknown address, or another sender, is news: it gets its notice
    const third = await quarantine(t, { to: ['other@example.test'], raw: markedMessage(uniqueMarker()) });
    const fourth = await quarantine(t, { from: 'john@client.test', raw: markedMessage(uniqueMarker()) });
    await t.events.waitFor('notice', (x) => x.qid === third && x.status === 'sent');
    await t.events.waitFor('notice', (x) => x.qid === fourth && x.status === 'sent');
    expect(sink.messages.map((m) => m.to[0])).toEqual(['jane@client.test', 'jane@client.test', 'john@client.test']);
  });

  it('hourly-cap defers instead of suppressing: the notice waits (pending) and goes out once the hour has passed, also after a restart', async () => {
    const sink = await startSink('accept');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port, { maxPerHour: 1 }));
    cleanup.push(() => site.remove());
    let clock = Date.parse('2026-11-23T10:00:00Z');
    const now = (): Date => new Date(clock);
    const t = await runApp(site, { now });
    const first = await quarantine(t, { raw: markedMessage(uniqueMarker()) });
    await t.events.waitFor('notice', (x) => x.qid === first && x.status === 'sent');
    clock += 60_000;
    const second = await quarantine(t, { from: 'john@client.test', raw: markedMessage(uniqueMarker()) });
    expect(await t.events.waitFor('notice', (x) => x.qid === second)).toEqual({
      event: 'notice',
      qid: second,
      to: 'john@client.test',
      status: 'deferred',
      reason: 'hourly-cap',
      attempts: 0,
    });
    expect(site.entry(second).notice).toEqual({
      status: 'pending',
      reason: 'hourly-cap',
      attempts: 0,
      nextAttemptAt: '2026-11-23T11:00:00.000Z',
      to: 'john@client.test',
    });
    expect(sink.messages.map((m) => m.to)).toEqual([['jane@client.test']]);
    await t.stop();

    // an hour later, a new process on the same data: the throttle is rebuilt, the slot is free again
    clock = Date.parse('2026-11-23T11:00:01Z');
    const again = await runApp(site, { now });
    cleanup.push(() => again.stop());
    expect(await again.events.waitFor('notice', (x) => x.qid === second && x.status === 'sent')).toEqual({
      event: 'notice',
      qid: second,
      to: 'john@client.test',
      status: 'sent',
      attempts: 1,
    });
    const [, m] = await sink.waitForMessages(2);
    expect(m?.to).toEqual(['john@client.test']);
    // on the app's clock: the moment the new process sent it
    expect(site.entry(second).notice).toEqual({
      status: 'sent',
      attempts: 1,
      sentAt: '2026-11-23T11:00:01.000Z',
      to: 'john@client.test',
    });
  });

  it('the throttle survives a restart: rebuilt from the entries marked sent', async () => {
    const sink = await startSink('accept');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port));
    cleanup.push(() => site.remove());
    const a = await runApp(site);
    const first = await quarantine(a, { raw: markedMessage(uniqueMarker()) });
    await a.events.waitFor('notice', (x) => x.qid === first && x.status === 'sent');
    await a.stop();
    const b = await runApp(site);
    cleanup.push(() => b.stop());
    const second = await quarantine(b, { raw: markedMessage(uniqueMarker()) });
    expect(await b.events.waitFor('notice', (x) => x.qid === second)).toEqual({
      event: 'notice',
      qid: second,
      to: 'jane@client.test',
      status: 'suppressed',
      reason: 'per-sender-interval',
    });
    expect(sink.messages.map((m) => m.to)).toEqual([['jane@client.test']]);
  });
});
