// quarantine.sealedSpoolMemory (#14 review): a sealed transaction holds its message in memory (the
// plaintext never touches the disk), so all of them together are bounded. The RCPT that makes a
// transaction a sealed one reserves maxMessageSize (or the client's SIZE= plus a margin); past the
// budget that RCPT gets 452 4.3.1 before any message byte is sent; the reservation goes back when the
// transaction ends, however it ends. Real sockets against the real app.
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { RawSmtp, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig, startApp, writeConfig, type TestApp } from '../helpers/start-app.js';

const DOMAINS = [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }];
const MB = 1024 * 1024;
let t: TestApp;
const open: RawSmtp[] = [];

beforeAll(async () => {
  const recipient = await identityToRecipient(await generateX25519Identity());
  // room for one transaction of maxMessageSize at a time
  t = await startApp({
    server: { maxMessageSize: '1MB' },
    domains: DOMAINS,
    quarantine: { path: 'quarantine', retention: '14d', sealTo: recipient, sealedSpoolMemory: '1MB' },
  });
});

afterAll(async () => {
  for (const c of open) c.close();
  await t?.stop();
});

async function session(mailParams = ''): Promise<RawSmtp> {
  const { client } = await RawSmtp.connect(t.port);
  open.push(client);
  expect((await client.cmd('EHLO client.test')).code).toBe(250);
  expect((await client.cmd(`MAIL FROM:<orders@shop.example>${mailParams}`)).code).toBe(250);
  return client;
}

const dataOf = (body: string): string => `${simpleMessage({ body }).replace(/\r?\n/g, '\r\n')}.\r\n`;

/**
 * Until a new session's sealed RCPT is accepted: the whole budget is free again (it has room for one
 * transaction of maxMessageSize). A share that leaked would keep it 452 and time this out.
 */
async function drained(): Promise<void> {
  for (const end = Date.now() + 5000; ; await new Promise((r) => setTimeout(r, 50))) {
    const probe = await session();
    const r = await probe.cmd('RCPT TO:<probe@example.test>');
    // RSET gives its own share back at once, before the 250: the next check does not race its close
    expect((await probe.cmd('RSET')).code).toBe(250);
    probe.close();
    if (r.code === 250) return;
    expect(r.code).toBe(452);
    if (Date.now() > end) throw new Error('the sealed spool budget was never given back');
  }
}

describe('the sealed spool budget', () => {
  it('a second sealed transaction past the budget gets 452 4.3.1 at RCPT; a known recipient is not held back', async () => {
    const a = await session();
    expect((await a.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
    // a second recipient of the same transaction shares its reservation
    expect((await a.cmd('RCPT TO:<stranger2@example.test>')).code).toBe(250);
    const b = await session();
    const refused = await b.cmd('RCPT TO:<another@example.test>');
    expect(refused.line).toBe(
      '452 4.3.1 insufficient system storage: too many sealed messages in memory, try again later [sealed-memory-full]',
    );
    const rcpt = await t.events.waitFor('rcpt', (e) => e.rcpt === 'another@example.test');
    expect(rcpt).toMatchObject({ code: 452, reason: 'sealed-memory-full' });
    // a mailbox is delivered, not sealed: it needs no share of the budget
    expect((await b.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);

    // RSET gives the share back: the other session's sealed RCPT fits now
    expect((await a.cmd('RSET')).code).toBe(250);
    const c = await session();
    expect((await c.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
    // and after c's message is stored, the share is free again
    expect((await a.cmd('MAIL FROM:<orders@shop.example>')).code).toBe(250);
    expect((await a.cmd('RCPT TO:<stranger@example.test>')).code).toBe(452);
    expect((await c.cmd('DATA')).code).toBe(354);
    c.write(dataOf('sealed and stored'));
    expect((await c.read()).code).toBe(250);
    expect((await a.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
    // EHLO starts over too (RFC 5321 §4.1.4): the share goes back
    expect((await a.cmd('EHLO client.test')).code).toBe(250);
    expect((await c.cmd('MAIL FROM:<orders@shop.example>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
    for (const s of [a, b, c]) s.close();
    await drained();
  });

  it('a client gone in the middle of DATA, or after RCPT, leaves no share behind', async () => {
    const a = await session();
    expect((await a.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
    expect((await a.cmd('DATA')).code).toBe(354);
    a.write('Subject: cut off\r\n\r\nhalf a body');
    await new Promise((r) => setTimeout(r, 100));
    a.close();
    await drained();
    const b = await session();
    expect((await b.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
    b.close();
    await drained();
    const c = await session();
    expect((await c.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
    expect((await c.cmd('QUIT')).code).toBe(221);
    await drained();
  });

  it('with SIZE= the share is the declared size plus a margin; a message past it is refused 552, not held', async () => {
    const a = await session(' SIZE=1000');
    const b = await session(' SIZE=1000');
    expect((await a.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
    expect((await b.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
    // both declared shares (2 × (1000 + 64 KiB)) leave no room for one of maxMessageSize
    const c = await session();
    expect((await c.cmd('RCPT TO:<stranger@example.test>')).code).toBe(452);
    c.close();
    expect((await a.cmd('DATA')).code).toBe(354);
    a.write(dataOf('x'.repeat(200 * 1024)));
    const tooLarge = await a.read();
    expect(tooLarge.code).toBe(552);
    expect((await b.cmd('DATA')).code).toBe(354);
    b.write(dataOf('small'));
    expect((await b.read()).code).toBe(250);
    a.close();
    b.close();
    await drained();
  });
});

describe('quarantine.sealedSpoolMemory in the configuration', () => {
  it.each([
    [
      { sealedSpoolMemory: '10MB' },
      'at least server.maxMessageSize \\(26214400 bytes\\)',
      'quarantine.sealedSpoolMemory',
    ],
    [{ sealedSpoolMemory: 'lots' }, 'invalid size', 'quarantine.sealedSpoolMemory'],
  ])('%j with sealTo is refused', (quarantine, message, key) => {
    const { configPath, dataDir } = writeConfig(
      baseConfig({
        domains: DOMAINS,
        quarantine: {
          path: 'quarantine',
          sealTo: 'age1qt02n0jhyrpq0vgqglv0vc6j2625duhyrux338vvj0t75sfcj9vqntzdlj',
          ...quarantine,
        },
      }),
    );
    const r = loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => `${i.path} ${i.message}`).join('\n')).toMatch(
      new RegExp(`${key.replace('.', '\\.')} .*${message}`),
    );
  });
  it('defaults to 256MB; without sealTo any value is fine', () => {
    const { configPath, dataDir } = writeConfig(
      baseConfig({ domains: DOMAINS, quarantine: { path: 'quarantine', sealedSpoolMemory: '1MB' } }),
    );
    const r = loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
    expect(r.ok && r.config.quarantine.sealedSpoolMemory).toBe(MB);
    const d = writeConfig(baseConfig({ domains: DOMAINS }));
    const rd = loadConfig({ configPath: d.configPath, env: { CATCHALL_GUARD_DATA_DIR: d.dataDir } });
    expect(rd.ok && rd.config.quarantine.sealedSpoolMemory).toBe(256 * MB);
  });
});
