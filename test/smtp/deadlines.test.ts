// No overall deadline per DATA or per session (issue #9.4): socketTimeout is an idle timer, so a
// client sending one byte a second held a DATA phase or a command line open for ever.
// server.dataTimeout and server.sessionTimeout are wall-clock bounds answered 421 4.4.2.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFilesRecursive, pollUntil } from '../helpers/files.js';
import { connectWithSid } from '../helpers/session-sid.js';
import { type RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

const DOMAINS = [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'] }];

/** Writes `text` one byte every `everyMs` until the socket closes or `text` runs out. */
function trickle(client: RawSmtp, text: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (client.socket.destroyed || i >= text.length) return clearInterval(timer);
    client.write(text[i++] ?? '');
  }, everyMs);
  return () => clearInterval(timer);
}

async function closedWithin(client: RawSmtp, ms: number): Promise<boolean> {
  return Promise.race([client.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

// sessionTimeout leaves 3 s between connect and DATA before it could overtake dataTimeout on a loaded machine
describe('wall-clock deadlines (socketTimeout 2s, dataTimeout 3s, sessionTimeout 6s)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ domains: DOMAINS, server: { socketTimeout: '2s', dataTimeout: '3s', sessionTimeout: '6s' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('no overall deadline per DATA: a byte every 500 ms (never idle for socketTimeout) gets 421 4.4.2 at dataTimeout; nothing is stored', async () => {
    const { client, sid } = await connectWithSid(t.port, t.events);
    let stop = (): void => undefined;
    try {
      await client.begin();
      expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
      const started = Date.now();
      expect((await client.cmd('DATA')).code).toBe(354);
      stop = trickle(client, `Subject: slow\r\n\r\n${'z'.repeat(10_000)}`, 500);
      const r = await client.read(8000);
      const took = Date.now() - started;
      expect(r.line).toBe('421 4.4.2 message transfer took too long, closing connection');
      expect(took).toBeGreaterThanOrEqual(2900);
      expect(took).toBeLessThan(6000);
      expect(await closedWithin(client, 3000)).toBe(true);
    } finally {
      stop();
      client.close();
    }
    expect(await t.events.waitFor('timeout', (x) => x.sid === sid)).toEqual({
      event: 'timeout',
      sid,
      limit: 'data',
      code: '421 4.4.2',
      reason: 'data-timeout',
    });
    expect(await t.events.waitFor('message', (m) => m.sid === sid)).toMatchObject({
      from: 'sender@client.test',
      delivered: [],
      quarantined: [],
      outcome: 'aborted',
      code: 0,
    });
    await pollUntil(
      () => (listFilesRecursive(path.join(t.dataDir, 'spool')).length === 0 ? true : undefined),
      'empty spool',
      5000,
    );
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
  });

  it('no overall deadline per session: a command line trickled a byte every 500 ms gets 421 4.4.2 at sessionTimeout', async () => {
    const started = Date.now();
    const { client, sid } = await connectWithSid(t.port, t.events);
    const stop = trickle(client, `EHLO ${'a'.repeat(400)}`, 500);
    try {
      const r = await client.read(8000);
      const took = Date.now() - started;
      expect(r.line).toBe('421 4.4.2 session took too long, closing connection');
      expect(took).toBeGreaterThanOrEqual(5900);
      expect(took).toBeLessThan(9000);
      expect(await closedWithin(client, 3000)).toBe(true);
    } finally {
      stop();
      client.close();
    }
    expect(await t.events.waitFor('timeout', (x) => x.sid === sid)).toEqual({
      event: 'timeout',
      sid,
      limit: 'session',
      code: '421 4.4.2',
      reason: 'session-timeout',
    });
  });

  it('no overall deadline per session: NOOPs every 500 ms between transactions get 421 4.4.2 at sessionTimeout', async () => {
    const started = Date.now();
    const { client, sid } = await connectWithSid(t.port, t.events);
    try {
      expect((await client.cmd('EHLO client.test')).code).toBe(250);
      let last = await client.cmd('NOOP');
      while (last.code === 250 && Date.now() - started < 8000) {
        await new Promise((r) => setTimeout(r, 500));
        last = await client.cmd('NOOP');
      }
      expect(last.line).toBe('421 4.4.2 session took too long, closing connection');
      expect(Date.now() - started).toBeGreaterThanOrEqual(5900);
    } finally {
      client.close();
    }
    expect(await t.events.waitFor('timeout', (x) => x.sid === sid)).toEqual({
      event: 'timeout',
      sid,
      limit: 'session',
      code: '421 4.4.2',
      reason: 'session-timeout',
    });
  });

  it('a message sent within the bounds is stored as usual', async () => {
    const r = await sendMessage(t.port, { from: 's@client.test', to: ['alice@example.test'], raw: simpleMessage() });
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
  });
});

describe('deadline settings', () => {
  it('dataTimeout and sessionTimeout default to 10 minutes and 30 minutes', async () => {
    const t = await startApp({ domains: DOMAINS });
    try {
      expect(t.config.server.dataTimeout).toBe(600_000);
      expect(t.config.server.sessionTimeout).toBe(1_800_000);
    } finally {
      await t.stop();
    }
  });
});
