// SPEC §4: unknownRecipients reject-after-data (250 at RCPT, 550 5.1.1 after the final dot naming the
// unknown addresses, a headers-only record), transactions never mixing kinds (452 4.5.3), the null
// sender to an unknown address (550 at RCPT in every mode but observe), and the DSN extension's
// parameters kept with the entry.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import { listFilesRecursive } from '../helpers/files.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

let t: TestApp | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

const MARK = 'SECRET-BODY-LINE-7731';
const MESSAGE = `From: CRM <bounces@crm.test>\r\nSubject: Your repair order\r\nMessage-ID: <rad-1@crm.test>\r\n\r\n${MARK}\r\n`;

async function start(
  mode: 'reject-after-data' | 'quarantine' | 'observe' | 'reject',
  notices: Record<string, unknown> = { enabled: false },
): Promise<TestApp> {
  t = await startApp({
    domains: [
      {
        name: 'example.test',
        unknownRecipients: mode,
        recipients: ['alice'],
        ...(mode === 'observe' ? { observeMailbox: 'alice' } : {}),
      },
    ],
    notices,
  });
  return t;
}

function entries(app: TestApp): QuarantineEntry[] {
  const dir = path.join(app.dataDir, 'quarantine');
  return listFilesRecursive(dir)
    .filter((n) => n.endsWith('.json'))
    .map((n) => JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as QuarantineEntry);
}

/** One transaction line by line; returns every reply line in order. */
async function transaction(port: number, lines: string[], message: string | null): Promise<string[]> {
  const { client } = await RawSmtp.connect(port);
  const out: string[] = [];
  try {
    for (const l of lines) out.push((await client.cmd(l)).line);
    if (message !== null) {
      const data = await client.cmd('DATA');
      out.push(data.line);
      if (data.code === 354) {
        client.write(`${message}.\r\n`);
        out.push((await client.read()).line);
      }
    }
  } finally {
    client.close();
  }
  return out;
}

describe('unknownRecipients: reject-after-data', () => {
  it('250 at RCPT, 550 5.1.1 after the final dot naming the address; one headers-only entry, kind rejected, notice not-needed', async () => {
    const app = await start('reject-after-data');
    const replies = await transaction(
      app.port,
      ['EHLO crm.test', 'MAIL FROM:<bounces+4711@crm.test>', 'RCPT TO:<Typo@Example.test>'],
      MESSAGE,
    );
    expect(replies.slice(1)).toEqual([
      '250 2.1.0 Accepted',
      '250 2.1.5 Accepted',
      '354 End data with <CR><LF>.<CR><LF>',
      '550 5.1.1 <typo@example.test>: recipient address rejected: user unknown',
    ]);
    const [e, ...more] = entries(app);
    expect(more).toEqual([]);
    expect(e).toMatchObject({
      kind: 'rejected',
      recipients: ['typo@example.test'],
      mailFrom: 'bounces+4711@crm.test',
      subject: 'Your repair order',
      messageId: '<rad-1@crm.test>',
      bodyStored: false,
      access: [],
      notice: { status: 'not-needed', attempts: 0 },
    });
    expect(e?.dsn).toBeUndefined();
    const eml = readFileSync(path.join(app.dataDir, 'quarantine', `${e?.id}.eml`), 'latin1');
    expect(eml).toContain('Subject: Your repair order');
    expect(eml).not.toContain(MARK);
    const msg = await app.events.waitFor('message', (m) => m.qid === e?.id);
    expect(msg).toMatchObject({
      outcome: 'rejected',
      code: 550,
      reason: 'user-unknown',
      rejected: ['typo@example.test'],
      quarantined: [],
      delivered: [],
    });
    expect(listFilesRecursive(path.join(app.dataDir, 'mail'))).toEqual([]);
  });

  it('two unknown addresses: one 550 naming both, one entry for both', async () => {
    const app = await start('reject-after-data');
    const replies = await transaction(
      app.port,
      ['EHLO crm.test', 'MAIL FROM:<crm@crm.test>', 'RCPT TO:<one@example.test>', 'RCPT TO:<two@example.test>'],
      MESSAGE,
    );
    expect(replies.at(-1)).toBe(
      '550 5.1.1 <one@example.test>, <two@example.test>: recipient address rejected: user unknown',
    );
    expect(entries(app).map((e) => e.recipients)).toEqual([['one@example.test', 'two@example.test']]);
  });

  it('a known recipient first: the reject-after-data one gets 452 4.5.3, and the message goes to the known one', async () => {
    const app = await start('reject-after-data');
    const replies = await transaction(
      app.port,
      ['EHLO crm.test', 'MAIL FROM:<crm@crm.test>', 'RCPT TO:<alice@example.test>', 'RCPT TO:<typo@example.test>'],
      MESSAGE,
    );
    expect(replies[3]).toBe('452 4.5.3 send this recipient in another transaction');
    expect(replies.at(-1)).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
    expect(entries(app)).toEqual([]);
    const rcpt = await app.events.waitFor('rcpt', (r) => r.rcpt === 'typo@example.test');
    expect(rcpt).toEqual({
      event: 'rcpt',
      sid: rcpt.sid,
      from: 'crm@crm.test',
      rcpt: 'typo@example.test',
      decision: 'limited',
      code: 452,
      reason: 'mixed-transaction',
    });
    // the session of alice's accepted RCPT: one transaction, one session
    expect(app.events.of('rcpt').map((r) => [r.sid, r.rcpt, r.decision])).toEqual([
      [rcpt.sid, 'alice@example.test', 'accept'],
      [rcpt.sid, 'typo@example.test', 'limited'],
    ]);
  });

  it('a reject-after-data recipient first: the known one gets 452 4.5.3, the transaction ends in 550', async () => {
    const app = await start('reject-after-data');
    const replies = await transaction(
      app.port,
      ['EHLO crm.test', 'MAIL FROM:<crm@crm.test>', 'RCPT TO:<typo@example.test>', 'RCPT TO:<alice@example.test>'],
      MESSAGE,
    );
    expect(replies[3]).toBe('452 4.5.3 send this recipient in another transaction');
    expect(replies.at(-1)).toBe('550 5.1.1 <typo@example.test>: recipient address rejected: user unknown');
    expect(listFilesRecursive(path.join(app.dataDir, 'mail'))).toEqual([]);
  });
});

describe('the null sender to an unknown address (SPEC §4)', () => {
  for (const mode of ['quarantine', 'reject-after-data', 'reject'] as const) {
    it(`mode ${mode}: 550 5.1.1 at RCPT, nothing kept`, async () => {
      const app = await start(mode);
      const replies = await transaction(
        app.port,
        ['EHLO mx.other.test', 'MAIL FROM:<>', 'RCPT TO:<typo@example.test>'],
        null,
      );
      expect(replies[2]).toBe('550 5.1.1 <typo@example.test>: recipient address rejected: user unknown');
      const rcpt = await app.events.waitFor('rcpt', (r) => r.rcpt === 'typo@example.test');
      // the same reason in every mode: a bounce to an address that never existed
      expect(rcpt).toEqual({
        event: 'rcpt',
        sid: rcpt.sid,
        from: '',
        rcpt: 'typo@example.test',
        decision: 'reject',
        code: 550,
        reason: 'null-sender-unknown',
      });
      expect(listFilesRecursive(path.join(app.dataDir, 'quarantine'))).toEqual([]);
    });
  }

  it('mode observe: the bounce is observed (250), as every other message there', async () => {
    const app = await start('observe');
    const replies = await transaction(
      app.port,
      ['EHLO mx.other.test', 'MAIL FROM:<>', 'RCPT TO:<typo@example.test>'],
      null,
    );
    expect(replies[2]).toBe('250 2.1.5 Accepted');
  });

  it('to a known recipient the null sender is accepted (bounces must reach real mailboxes)', async () => {
    const app = await start('quarantine');
    const replies = await transaction(
      app.port,
      ['EHLO mx.other.test', 'MAIL FROM:<>', 'RCPT TO:<alice@example.test>'],
      null,
    );
    expect(replies[2]).toBe('250 2.1.5 Accepted');
  });
});

describe('the DSN extension (RFC 3461)', () => {
  it('EHLO offers DSN; ENVID, RET, NOTIFY and ORCPT (xtext-decoded) are kept in the entry', async () => {
    const app = await start('quarantine');
    const { client } = await RawSmtp.connect(app.port);
    const ehlo = await client.cmd('EHLO crm.test');
    client.close();
    expect(ehlo.text.split('\n')).toContain('DSN');
    const replies = await transaction(
      app.port,
      [
        'EHLO crm.test',
        'MAIL FROM:<bounces+4711@crm.test> ENVID=crm-4711+2Bx RET=HDRS',
        'RCPT TO:<typo@example.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;Typo+40example.test',
        'RCPT TO:<other@example.test>',
      ],
      MESSAGE,
    );
    const [e] = entries(app);
    expect(replies.at(-1)).toBe(`250 2.0.0 Ok: queued as ${e?.id}`);
    expect(e?.dsn).toEqual({
      envid: 'crm-4711+x',
      ret: 'HDRS',
      recipients: [
        { address: 'typo@example.test', notify: ['FAILURE', 'DELAY'], orcpt: 'rfc822;Typo@example.test' },
        { address: 'other@example.test' },
      ],
    });
  });
});
