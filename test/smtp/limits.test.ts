// SPEC §3/§4 limits: connections, recipients, unknown recipients per session and per IP, size, timeouts.
import { afterEach, describe, expect, it } from 'vitest';
import { connectWithSid } from '../helpers/session-sid.js';
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
    const a = await connectWithSid(app.port, app.events);
    const b = await RawSmtp.connect(app.port);
    expect(a.greeting?.line).toBe('220 mx.test.invalid ESMTP catchall-guard');
    expect(b.greeting?.line).toBe('220 mx.test.invalid ESMTP catchall-guard');
    const c = await connectWithSid(app.port, app.events);
    expect(c.greeting?.line).toBe('421 4.7.0 too many connections from your address, try again later');
    await c.client.closed;
    expect(app.events.of('connect').find((e) => e.sid === c.sid)).toEqual({
      event: 'connect',
      sid: c.sid,
      remoteAddress: '127.0.0.1',
      refused: '421 4.7.0',
      reason: 'max-connections-per-ip',
    });
    a.client.close();
    // the slot frees when a's own session closes (c's refused session closes too, and must not count)
    await app.events.waitFor('close', (e) => e.sid === a.sid);
    const d = await RawSmtp.connect(app.port);
    expect(d.greeting?.line).toBe('220 mx.test.invalid ESMTP catchall-guard');
    b.client.close();
    d.client.close();
  });

  it('maxConnections: the excess connection gets 421 4.7.0', async () => {
    const app = await start({ maxConnections: 2, maxConnectionsPerIp: 0 });
    const a = await RawSmtp.connect(app.port);
    const b = await RawSmtp.connect(app.port);
    const c = await connectWithSid(app.port, app.events);
    expect(c.greeting?.line).toBe('421 4.7.0 too many connections, try again later');
    await c.client.closed;
    expect(app.events.of('connect').filter((e) => e.refused !== undefined)).toEqual([
      { event: 'connect', sid: c.sid, remoteAddress: '127.0.0.1', refused: '421 4.7.0', reason: 'max-connections' },
    ]);
    a.client.close();
    b.client.close();
  });
});

describe('recipient limits', () => {
  it('maxUnknownRecipients per session: past it 421 4.7.0 and the connection closes', async () => {
    const app = await start({ maxUnknownRecipients: 3 });
    const { client, sid } = await connectWithSid(app.port, app.events);
    await client.begin();
    for (const n of [1, 2, 3])
      expect((await client.cmd(`RCPT TO:<nobody${n}@example.test>`)).line).toBe(
        `550 5.1.1 <nobody${n}@example.test>: recipient address rejected: user unknown`,
      );
    // known recipients do not count
    expect((await client.cmd('RCPT TO:<alice@example.test>')).line).toBe('250 2.1.5 Accepted');
    expect((await client.cmd('RCPT TO:<nobody4@example.test>')).line).toBe(
      '421 4.7.0 too many unknown recipients, closing connection',
    );
    await client.closed;
    expect(await app.events.waitFor('rcpt', (e) => e.sid === sid && e.decision === 'limited')).toEqual({
      event: 'rcpt',
      sid,
      from: 'sender@client.test',
      rcpt: 'nobody4@example.test',
      decision: 'limited',
      code: 421,
      reason: 'max-unknown-recipients',
    });
  });

  it('quarantine-mode unknown recipients count against the session limit too', async () => {
    const app = await start({ maxUnknownRecipients: 2 }, [
      { name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] },
    ]);
    const { client } = await RawSmtp.connect(app.port);
    await client.begin();
    expect((await client.cmd('RCPT TO:<x1@example.test>')).line).toBe('250 2.1.5 Accepted');
    expect((await client.cmd('RCPT TO:<x2@example.test>')).line).toBe('250 2.1.5 Accepted');
    expect((await client.cmd('RCPT TO:<x3@example.test>')).line).toBe(
      '421 4.7.0 too many unknown recipients, closing connection',
    );
    await client.closed;
  });

  it('maxUnknownRecipientsPerIp: the budget spans sessions; past it RCPT and new connections get 421 4.7.0', async () => {
    const app = await start({ maxUnknownRecipientsPerIp: 5, maxUnknownRecipients: 100 });
    const first = await RawSmtp.connect(app.port);
    await first.client.begin();
    for (const n of [1, 2, 3])
      expect((await first.client.cmd(`RCPT TO:<h${n}@example.test>`)).line).toBe(
        `550 5.1.1 <h${n}@example.test>: recipient address rejected: user unknown`,
      );
    first.client.close();
    const second = await RawSmtp.connect(app.port);
    await second.client.begin();
    for (const n of [4, 5])
      expect((await second.client.cmd(`RCPT TO:<h${n}@example.test>`)).line).toBe(
        `550 5.1.1 <h${n}@example.test>: recipient address rejected: user unknown`,
      );
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
    expect(r.line).toBe('552 5.3.4 Error: message exceeds fixed maximum message size 1048576');
    expect((await client.cmd('MAIL FROM:<s@client.test> SIZE=1000')).line).toBe('250 2.1.0 Accepted');
    client.close();
  });

  it('socketTimeout: an idle client is told 421 and disconnected', async () => {
    const app = await start({ socketTimeout: '1s' });
    const { client } = await RawSmtp.connect(app.port);
    const r = await client.read(5000);
    expect(r.line).toBe('421 4.4.2 Timeout - closing connection');
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
