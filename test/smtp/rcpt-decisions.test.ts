// SPEC §4 table, row by row, over a real socket: the exact reply line and the `rcpt` log event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

async function rcpt(address: string): Promise<string> {
  const { client } = await RawSmtp.connect(t.port);
  try {
    await client.begin();
    return (await client.cmd(`RCPT TO:<${address}>`)).line;
  } finally {
    client.close();
  }
}

describe('RCPT decisions (SPEC §4)', () => {
  it.each([
    ['alice@example.test', '250 2.1.5 Accepted', 'accept'],
    ['ALICE@Example.TEST', '250 2.1.5 Accepted', 'accept'],
    ['alice+news@example.test', '250 2.1.5 Accepted', 'accept'],
    ['shop-amazon@example.test', '250 2.1.5 Accepted', 'accept'],
    ['team1@example.test', '250 2.1.5 Accepted', 'accept'],
    ['postmaster@example.test', '250 2.1.5 Accepted', 'accept'],
    ['PostMaster@quarantine.test', '250 2.1.5 Accepted', 'accept'],
    ['info@bücher.test', '250 2.1.5 Accepted', 'accept'],
    ['info@xn--bcher-kva.test', '250 2.1.5 Accepted', 'accept'],
  ])('known recipient %s → %s', async (address, line, decision) => {
    expect(await rcpt(address)).toBe(line);
    const e = await t.events.waitFor(
      'rcpt',
      (x) => x.rcpt.toLowerCase().startsWith(address.toLowerCase().split('@')[0]!) && x.decision === decision,
    );
    expect(e.code).toBe(250);
  });

  it('unknown local-part in reject mode → 550 5.1.1 with the address', async () => {
    expect(await rcpt('carol@example.test')).toBe(
      '550 5.1.1 <carol@example.test>: recipient address rejected: user unknown',
    );
    const e = await t.events.waitFor('rcpt', (x) => x.rcpt === 'carol@example.test');
    expect(e).toMatchObject({ decision: 'reject', code: 550, from: 'sender@client.test' });
  });

  it('team12 does not match team? (one character only)', async () => {
    expect(await rcpt('team12@example.test')).toMatch(/^550 5\.1\.1 /);
  });

  it('subaddressing off: alice+x is unknown', async () => {
    expect(await rcpt('alice+x@nosub.test')).toMatch(/^550 5\.1\.1 <alice\+x@nosub\.test>/);
  });

  it('unknown local-part in quarantine mode → 250 2.1.5, decision quarantine', async () => {
    expect(await rcpt('stranger@quarantine.test')).toBe('250 2.1.5 Accepted');
    await t.events.waitFor(
      'rcpt',
      (x) => x.rcpt === 'stranger@quarantine.test' && x.decision === 'quarantine' && x.code === 250,
    );
  });

  it('unknown local-part in observe mode → 250 2.1.5, decision observe', async () => {
    expect(await rcpt('stranger@observe.test')).toBe('250 2.1.5 Accepted');
    await t.events.waitFor('rcpt', (x) => x.rcpt === 'stranger@observe.test' && x.decision === 'observe');
  });

  it('domain not served → 554 5.7.1 relay access denied', async () => {
    expect(await rcpt('someone@elsewhere.test')).toBe('554 5.7.1 <someone@elsewhere.test>: relay access denied');
    await t.events.waitFor(
      'rcpt',
      (x) => x.rcpt === 'someone@elsewhere.test' && x.decision === 'relay-denied' && x.code === 554,
    );
  });

  it('subdomain of a served domain is not served', async () => {
    expect(await rcpt('alice@sub.example.test')).toMatch(/^554 5\.7\.1 /);
  });

  it('malformed address → 501 5.1.3', async () => {
    expect(await rcpt('no-at-sign')).toMatch(/^501 5\.1\.3 /);
    expect(await rcpt(`${'a'.repeat(65)}@example.test`)).toMatch(/^501 5\.1\.3 /);
  });

  it('bare <postmaster> is accepted (RFC 5321 §4.1.1.3)', async () => {
    expect(await rcpt('postmaster')).toBe('250 2.1.5 Accepted');
    await t.events.waitFor('rcpt', (x) => x.rcpt === 'postmaster@example.test' && x.decision === 'accept');
  });

  it('more than maxRecipients in one transaction → 452 4.5.3, earlier recipients kept', async () => {
    const { client } = await RawSmtp.connect(t.port);
    await client.begin();
    for (const a of ['alice', 'bob', 'shop-1'])
      expect((await client.cmd(`RCPT TO:<${a}@example.test>`)).code).toBe(250);
    expect((await client.cmd('RCPT TO:<shop-2@example.test>')).line).toBe(
      '452 4.5.3 too many recipients in this transaction',
    );
    // a repeated recipient replaces itself and does not count twice
    expect((await client.cmd('RCPT TO:<bob@example.test>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
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
    expect((await client.cmd('AUTH PLAIN AGFsaWNlAHNlY3JldA==')).code).toBeGreaterThanOrEqual(500);
    client.close();
  });
});
