// The sender's system learns (SPEC §6, issue #11): a message shaped like real CRM mail (a VERP bounce
// address, List-Unsubscribe, Precedence: bulk, Auto-Submitted: auto-generated) gets a dsn notice, and
// that notice carries what the client asked through the DSN extension so its bounce handler can match
// it: Original-Envelope-Id (ENVID), Original-Recipient (ORCPT), only the recipients whose NOTIFY asks.
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { formatRfc5322Date } from '../../src/message/date.js';
import { queuedId } from '../helpers/files.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startSink, type UpstreamSink } from '../helpers/upstream-sink.js';
import { noticeSite, runApp, smarthost, uniqueMarker, type NoticeSite, type RunningApp } from './notice-app.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(): Promise<{ sink: UpstreamSink; site: NoticeSite; t: RunningApp }> {
  const sink = await startSink('accept');
  cleanup.push(() => sink.close());
  const site = noticeSite(smarthost(sink.port));
  cleanup.push(() => site.remove());
  const t = await runApp(site);
  cleanup.push(() => t.stop());
  return { sink, site, t };
}

const crmMessage = (marker: string): string =>
  'From: Repair Service <service@crm.test>\r\nTo: jane.doe@example.test\r\nSubject: Your repair order 4711\r\n' +
  'Message-ID: <order-4711@crm.test>\r\nList-Unsubscribe: <mailto:unsubscribe@crm.test>\r\nPrecedence: bulk\r\n' +
  `Auto-Submitted: auto-generated\r\n\r\nYour device serial ${marker} is ready. Home address: 1 Secret Lane.\r\n`;

/** One transaction with DSN parameters written verbatim. */
async function send(port: number, mail: string, rcpts: string[], raw: string): Promise<string> {
  const { client } = await RawSmtp.connect(port);
  try {
    expect((await client.cmd('EHLO crm.test')).code).toBe(250);
    expect((await client.cmd(mail)).code).toBe(250);
    for (const r of rcpts) expect((await client.cmd(r)).line).toBe('250 2.1.5 Accepted');
    expect((await client.cmd('DATA')).code).toBe(354);
    client.write(`${raw}.\r\n`);
    const done = await client.read();
    expect(done.code).toBe(250);
    return queuedId(done.line);
  } finally {
    client.close();
  }
}

describe('a CRM message gets a dsn notice its bounce handler can match', () => {
  it('VERP sender, List-Unsubscribe, Precedence: bulk, Auto-Submitted: auto-generated, ENVID and ORCPT → sent, with Original-Envelope-Id and Original-Recipient', async () => {
    const { sink, site, t } = await setup();
    const marker = uniqueMarker();
    const qid = await send(
      t.port,
      'MAIL FROM:<bounces+4711-jane=example.test@crm.test> ENVID=crm-4711+2Bbatch RET=HDRS',
      ['RCPT TO:<jane.doe@example.test> NOTIFY=FAILURE ORCPT=rfc822;Jane.Doe+40example.test'],
      crmMessage(marker),
    );
    const [m] = await sink.waitForMessages(1);
    expect(m?.from).toBe('');
    expect(m?.to).toEqual(['bounces+4711-jane=example.test@crm.test']);
    const mail = await simpleParser(m?.raw ?? Buffer.alloc(0));
    const status = mail.attachments.find((a) => a.contentType === 'message/delivery-status')?.content.toString() ?? '';
    expect(status.split('\r\n')).toEqual([
      'Original-Envelope-Id: crm-4711+batch',
      'Reporting-MTA: dns; mx.test.invalid',
      // when the message arrived: the entry's receivedAt
      `Arrival-Date: ${formatRfc5322Date(new Date(site.entry(qid).receivedAt))}`,
      '',
      'Original-Recipient: rfc822;Jane.Doe@example.test',
      'Final-Recipient: rfc822; jane.doe@example.test',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 <jane.doe@example.test>: recipient address rejected: user unknown',
      '',
    ]);
    expect(m?.raw.toString('latin1')).not.toContain(marker);
    await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent');
    expect(site.entry(qid).dsn).toEqual({
      envid: 'crm-4711+batch',
      ret: 'HDRS',
      recipients: [{ address: 'jane.doe@example.test', notify: ['FAILURE'], orcpt: 'rfc822;Jane.Doe@example.test' }],
    });
  });

  it('NOTIFY=NEVER for the unknown recipient → suppressed notify-no-failure, nothing sent', async () => {
    const { sink, site, t } = await setup();
    const qid = await send(
      t.port,
      'MAIL FROM:<bounces@crm.test>',
      ['RCPT TO:<jane.doe@example.test> NOTIFY=NEVER'],
      crmMessage(uniqueMarker()),
    );
    expect(await t.events.waitFor('notice', (e) => e.qid === qid)).toEqual({
      event: 'notice',
      qid,
      to: 'bounces@crm.test',
      status: 'suppressed',
      reason: 'notify-no-failure',
    });
    expect(site.entry(qid).notice).toEqual({
      status: 'suppressed',
      reason: 'notify-no-failure',
      attempts: 0,
      to: 'bounces@crm.test',
    });
    expect(sink.messages).toEqual([]);
  });

  it('two unknown recipients, one with NOTIFY=SUCCESS: the notice names only the one that asked for failures', async () => {
    const { sink, t } = await setup();
    const qid = await send(
      t.port,
      'MAIL FROM:<bounces@crm.test>',
      ['RCPT TO:<quiet@example.test> NOTIFY=SUCCESS', 'RCPT TO:<loud@example.test> NOTIFY=FAILURE,DELAY'],
      crmMessage(uniqueMarker()),
    );
    const [m] = await sink.waitForMessages(1);
    const mail = await simpleParser(m?.raw ?? Buffer.alloc(0));
    const status = mail.attachments.find((a) => a.contentType === 'message/delivery-status')?.content.toString() ?? '';
    expect(status.match(/^Final-Recipient: .*$/gm)).toEqual(['Final-Recipient: rfc822; loud@example.test']);
    expect(mail.text).toContain('loud@example.test');
    expect(mail.text).not.toContain('quiet@example.test');
    await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent');
  });
});

describe('one notice per served domain (SPEC §6)', () => {
  it('unknown recipients at two served domains: two notices, each From: its domain and naming only its addresses', async () => {
    const sink = await startSink('accept');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port), {
      domains: [
        { name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] },
        { name: 'other.test', unknownRecipients: 'quarantine', recipients: ['bob'] },
      ],
    });
    cleanup.push(() => site.remove());
    const t = await runApp(site);
    cleanup.push(() => t.stop());
    const qid = await send(
      t.port,
      'MAIL FROM:<bounces@crm.test>',
      ['RCPT TO:<typo@example.test>', 'RCPT TO:<x@other.test>', 'RCPT TO:<y@other.test>'],
      crmMessage(uniqueMarker()),
    );
    const messages = await sink.waitForMessages(2);
    expect(messages.map((m) => [m.from, m.to])).toEqual([
      ['', ['bounces@crm.test']],
      ['', ['bounces@crm.test']],
    ]);
    const mails = await Promise.all(messages.map((m) => simpleParser(m.raw)));
    const finals = (text: string): string[] => text.match(/^Final-Recipient: .*$/gm) ?? [];
    const status = (i: number): string =>
      mails[i]?.attachments.find((a) => a.contentType === 'message/delivery-status')?.content.toString() ?? '';
    expect(mails.map((m) => [m.from?.value[0]?.address, m.messageId])).toEqual([
      ['postmaster@example.test', `<notice-${qid}@mx.test.invalid>`],
      ['postmaster@other.test', `<notice-${qid}-1@mx.test.invalid>`],
    ]);
    expect(finals(status(0))).toEqual(['Final-Recipient: rfc822; typo@example.test']);
    expect(finals(status(1))).toEqual([
      'Final-Recipient: rfc822; x@other.test',
      'Final-Recipient: rfc822; y@other.test',
    ]);
    expect(mails[0]?.text).not.toContain('other.test');
    expect(await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent')).toEqual({
      event: 'notice',
      qid,
      to: 'bounces@crm.test',
      status: 'sent',
      attempts: 1,
    });
    expect(site.entry(qid).notice).toMatchObject({ status: 'sent', sentDomains: ['example.test', 'other.test'] });
  });
});
