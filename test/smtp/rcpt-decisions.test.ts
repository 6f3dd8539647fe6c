// SPEC §4 table, row by row, over a real socket: the exact reply line and the `rcpt` log event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEvent } from '../../src/observability/events.js';
import { connectWithSid } from '../helpers/session-sid.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

let t: TestApp;

beforeAll(async () => {
  t = await startApp({
    domains: [
      { name: 'example.test', unknownRecipients: 'reject', recipients: ['alice', 'bob', 'shop-*', 'team?'] },
      { name: 'quarantine.test', unknownRecipients: 'quarantine', recipients: ['alice'] },
      { name: 'observe.test', unknownRecipients: 'observe', recipients: ['alice'], observeMailbox: 'alice' },
      { name: 'bücher.test', unknownRecipients: 'reject', recipients: ['info'] },
      { name: 'nosub.test', unknownRecipients: 'reject', recipients: ['alice'], subaddressSeparator: '' },
    ],
    server: { maxRecipients: 3, maxUnknownRecipients: 50 },
  });
});
afterAll(() => t.stop());

type RcptEvent = Extract<LogEvent, { event: 'rcpt' }>;

/** One RCPT in a session of its own: the reply line and the `rcpt` events of that session only. */
async function rcptIn(address: string): Promise<{ line: string; sid: string; events: RcptEvent[] }> {
  const { client, sid } = await connectWithSid(t.port, t.events);
  try {
    await client.begin();
    const line = (await client.cmd(`RCPT TO:<${address}>`)).line;
    return { line, sid, events: t.events.of('rcpt').filter((e) => e.sid === sid) };
  } finally {
    client.close();
  }
}

async function rcpt(address: string): Promise<string> {
  return (await rcptIn(address)).line;
}

const rcptEvent = (sid: string, rcpt: string, decision: RcptEvent['decision'], code: number, reason?: string) => ({
  event: 'rcpt',
  sid,
  from: 'sender@client.test',
  rcpt,
  decision,
  code,
  ...(reason === undefined ? {} : { reason }),
});

describe('RCPT decisions (SPEC §4)', () => {
  it.each([
    ['alice@example.test', 'alice@example.test'],
    ['ALICE@Example.TEST', 'alice@example.test'],
    ['alice+news@example.test', 'alice+news@example.test'],
    ['shop-amazon@example.test', 'shop-amazon@example.test'],
    ['team1@example.test', 'team1@example.test'],
    ['postmaster@example.test', 'postmaster@example.test'],
    ['PostMaster@quarantine.test', 'postmaster@quarantine.test'],
    ['info@bücher.test', 'info@xn--bcher-kva.test'],
    ['info@xn--bcher-kva.test', 'info@xn--bcher-kva.test'],
  ])('known recipient %s → 250 2.1.5 Accepted, logged as %s', async (address, logged) => {
    const r = await rcptIn(address);
    expect(r.line).toBe('250 2.1.5 Accepted');
    expect(r.events).toEqual([rcptEvent(r.sid, logged, 'accept', 250)]);
  });

  it('unknown local-part in reject mode → 550 5.1.1 with the address', async () => {
    const r = await rcptIn('carol@example.test');
    expect(r.line).toBe('550 5.1.1 <carol@example.test>: recipient address rejected: user unknown');
    expect(r.events).toEqual([rcptEvent(r.sid, 'carol@example.test', 'reject', 550, 'user-unknown')]);
  });

  it('team12 does not match team? (one character only)', async () => {
    expect(await rcpt('team12@example.test')).toBe(
      '550 5.1.1 <team12@example.test>: recipient address rejected: user unknown',
    );
  });

  it('subaddressing off: alice+x is unknown', async () => {
    expect(await rcpt('alice+x@nosub.test')).toBe(
      '550 5.1.1 <alice+x@nosub.test>: recipient address rejected: user unknown',
    );
  });

  it('unknown local-part in quarantine mode → 250 2.1.5, decision quarantine', async () => {
    const r = await rcptIn('stranger@quarantine.test');
    expect(r.line).toBe('250 2.1.5 Accepted');
    expect(r.events).toEqual([rcptEvent(r.sid, 'stranger@quarantine.test', 'quarantine', 250)]);
  });

  it('unknown local-part in observe mode → 250 2.1.5, decision observe', async () => {
    const r = await rcptIn('stranger@observe.test');
    expect(r.line).toBe('250 2.1.5 Accepted');
    expect(r.events).toEqual([rcptEvent(r.sid, 'stranger@observe.test', 'observe', 250)]);
  });

  it('domain not served → 554 5.7.1 relay access denied', async () => {
    const r = await rcptIn('someone@elsewhere.test');
    expect(r.line).toBe('554 5.7.1 <someone@elsewhere.test>: relay access denied');
    expect(r.events).toEqual([rcptEvent(r.sid, 'someone@elsewhere.test', 'relay-denied', 554, 'relay-denied')]);
  });

  it('subdomain of a served domain is not served', async () => {
    expect(await rcpt('alice@sub.example.test')).toBe('554 5.7.1 <alice@sub.example.test>: relay access denied');
  });

  it('malformed address → 501 5.1.3', async () => {
    // smtp-server refuses a path without an @ itself, before our hook
    expect(await rcpt('no-at-sign')).toBe('501 5.1.3 Error: Bad recipient address syntax');
    expect(await rcpt(`${'a'.repeat(65)}@example.test`)).toBe(
      '501 5.1.3 bad recipient address syntax: local-part over 64 octets',
    );
  });

  it('bare <postmaster> is accepted (RFC 5321 §4.1.1.3)', async () => {
    const r = await rcptIn('postmaster');
    expect(r.line).toBe('250 2.1.5 Accepted');
    expect(r.events).toEqual([rcptEvent(r.sid, 'postmaster@example.test', 'accept', 250)]);
  });

  it('more than maxRecipients in one transaction → 452 4.5.3, earlier recipients kept', async () => {
    const { client } = await RawSmtp.connect(t.port);
    await client.begin();
    for (const a of ['alice', 'bob', 'shop-1'])
      expect((await client.cmd(`RCPT TO:<${a}@example.test>`)).line).toBe('250 2.1.5 Accepted');
    expect((await client.cmd('RCPT TO:<shop-2@example.test>')).line).toBe(
      '452 4.5.3 too many recipients in this transaction',
    );
    // a repeated recipient replaces itself and does not count twice
    expect((await client.cmd('RCPT TO:<bob@example.test>')).line).toBe('250 2.1.5 Accepted');
    expect((await client.cmd('DATA')).line).toBe('354 End data with <CR><LF>.<CR><LF>');
    client.close();
  });

  it('MAIL FROM:<> (null sender) is accepted', async () => {
    const { client } = await RawSmtp.connect(t.port);
    expect((await client.cmd('EHLO client.test')).code).toBe(250);
    expect((await client.cmd('MAIL FROM:<>')).line).toBe('250 2.1.0 Accepted');
    expect((await client.cmd('RCPT TO:<postmaster@example.test>')).line).toBe('250 2.1.5 Accepted');
    client.close();
  });

  it('EHLO advertises SIZE and ENHANCEDSTATUSCODES but no AUTH', async () => {
    const { client, greeting } = await RawSmtp.connect(t.port);
    expect(greeting?.line).toBe('220 mx.test.invalid ESMTP catchall-guard');
    const ehlo = await client.cmd('EHLO client.test');
    expect(ehlo.text).toContain(`SIZE ${25 * 1024 * 1024}`);
    expect(ehlo.text).toContain('ENHANCEDSTATUSCODES');
    expect(ehlo.text).not.toMatch(/AUTH/);
    expect((await client.cmd('AUTH PLAIN AGFsaWNlAHNlY3JldA==')).line).toBe('500 5.5.2 Error: command not recognized');
    client.close();
  });
});
