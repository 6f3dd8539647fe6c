// SPEC §3/§4 limits: connections, recipients, unknown recipients per session and per IP, size, timeouts.
import { afterEach, describe, expect, it } from 'vitest';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startApp, type RawConfig, type TestApp } from '../helpers/start-app.js';

let t: TestApp | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});
async function start(server: RawConfig, domains?: RawConfig[]): Promise<TestApp> {
  t = await startApp({ server, ...(domains ? { domains } : {}) });
  return t;
}

describe('connection limits', () => {
  it('maxConnectionsPerIp: the excess connection gets 421 4.7.0 and is closed; a slot frees on close', async () => {
    const app = await start({ maxConnectionsPerIp: 2 });
    const a = await RawSmtp.connect(app.port);
    const b = await RawSmtp.connect(app.port);
    expect(a.greeting?.code).toBe(220);
    expect(b.greeting?.code).toBe(220);
    const c = await RawSmtp.connect(app.port);
    expect(c.greeting?.line).toBe('421 4.7.0 too many connections from your address, try again later');
    await c.client.closed;
    a.client.close();
    await app.events.waitFor('close', (e) => e.sid !== undefined);
    const d = await RawSmtp.connect(app.port);
    expect(d.greeting?.code).toBe(220);
    b.client.close();
    d.client.close();
  });

  it('maxConnections: the excess connection gets 421 4.7.0', async () => {
    const app = await start({ maxConnections: 2, maxConnectionsPerIp: 0 });
    const a = await RawSmtp.connect(app.port);
    const b = await RawSmtp.connect(app.port);
    const c = await RawSmtp.connect(app.port);
    expect(c.greeting?.line).toBe('421 4.7.0 too many connections, try again later');
    await c.client.closed;
    const refused = await app.events.waitFor('connect', (e) => e.refused !== undefined);
    expect(refused.refused).toBe('421 4.7.0');
    a.client.close();
    b.client.close();
  });
});

describe('recipient limits', () => {
  it('maxUnknownRecipients per session: past it 421 4.7.0 and the connection closes', async () => {
    const app = await start({ maxUnknownRecipients: 3 });
    const { client } = await RawSmtp.connect(app.port);
    await client.begin();
    for (const n of [1, 2, 3]) expect((await client.cmd(`RCPT TO:<nobody${n}@example.test>`)).code).toBe(550);
    // known recipients do not count
    expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<nobody4@example.test>')).line).toBe(
      '421 4.7.0 too many unknown recipients, closing connection',
    );
    await client.closed;
    await app.events.waitFor('rcpt', (e) => e.decision === 'limited' && e.code === 421);
  });

  it('quarantine-mode unknown recipients count against the session limit too', async () => {
    const app = await start({ maxUnknownRecipients: 2 }, [
      { name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] },
    ]);
    const { client } = await RawSmtp.connect(app.port);
    await client.begin();
    expect((await client.cmd('RCPT TO:<x1@example.test>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<x2@example.test>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<x3@example.test>')).code).toBe(421);
    await client.closed;
  });

  it('maxUnknownRecipientsPerIp: the budget spans sessions; past it RCPT and new connections get 421 4.7.0', async () => {
    const app = await start({ maxUnknownRecipientsPerIp: 5, maxUnknownRecipients: 100 });
    const first = await RawSmtp.connect(app.port);
    await first.client.begin();
    for (const n of [1, 2, 3]) expect((await first.client.cmd(`RCPT TO:<h${n}@example.test>`)).code).toBe(550);
    first.client.close();
    const second = await RawSmtp.connect(app.port);
    await second.client.begin();
    for (const n of [4, 5]) expect((await second.client.cmd(`RCPT TO:<h${n}@example.test>`)).code).toBe(550);
    expect((await second.client.cmd('RCPT TO:<h6@example.test>')).line).toBe(
      '421 4.7.0 too many unknown recipients from your address, try again later',
    );
    await second.client.closed;
    const third = await RawSmtp.connect(app.port);
    expect(third.greeting?.line).toBe('421 4.7.0 too many unknown recipients from your address, try again later');
    await third.client.closed;
  });
});

describe('size and time', () => {
  it('MAIL FROM with SIZE= over maxMessageSize → 552 5.3.4', async () => {
    const app = await start({ maxMessageSize: '1MB' });
    const { client } = await RawSmtp.connect(app.port);
    expect((await client.cmd('EHLO client.test')).text).toContain('SIZE 1048576');
    const r = await client.cmd('MAIL FROM:<s@client.test> SIZE=2000000');
    expect(r.line).toMatch(/^552 5\.3\.4 /);
    expect((await client.cmd('MAIL FROM:<s@client.test> SIZE=1000')).code).toBe(250);
    client.close();
  });

  it('socketTimeout: an idle client is told 421 and disconnected', async () => {
    const app = await start({ socketTimeout: '1s' });
    const { client } = await RawSmtp.connect(app.port);
    const r = await client.read(5000);
    expect(r.line).toMatch(/^421 4\.4\.2 /);
    await client.closed;
    void app;
  });

  it('greetDelay: a client talking before the banner gets 554 5.5.1 and is closed', async () => {
    const app = await start({ greetDelay: '500ms' });
    const { client } = await RawSmtp.connect(app.port, { waitGreeting: false });
    client.write('EHLO early.test\r\n');
    const r = await client.read(5000);
    expect(r.line).toBe('554 5.5.1 protocol error: you talked before the greeting');
    await client.closed;
    // logged like any refused connection, with the session id its `close` event carries
    const connect = await app.events.waitFor('connect', (e) => e.refused === '554 5.5.1');
    await app.events.waitFor('close', (e) => e.sid === connect.sid);
  });
});
