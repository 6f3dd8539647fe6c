// Quarantine mode has no per-client bound (issue #9.5): one IP stored 320 entries in 5 s. Now every
// quarantine decision counts against maxUnknownRecipientsPerIp (observe does not, SPEC §3), and the
// quarantine has a size quota (quarantine.maxSize) past which quarantine RCPTs wait with 452 4.3.1.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { queuedId } from '../helpers/files.js';
import { connectWithSid } from '../helpers/session-sid.js';
import { RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, type RawConfig, type TestApp } from '../helpers/start-app.js';

let t: TestApp | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

async function start(server: RawConfig, mode: 'quarantine' | 'observe', quarantine: RawConfig = {}): Promise<TestApp> {
  t = await startApp({
    server,
    domains: [
      {
        name: 'example.test',
        unknownRecipients: mode,
        recipients: ['alice'],
        ...(mode === 'observe' ? { observeMailbox: 'alice' } : {}),
      },
    ],
    quarantine: { path: 'quarantine', retention: '14d', ...quarantine },
  });
  return t;
}

const entries = (app: TestApp): string[] =>
  readdirSync(path.join(app.dataDir, 'quarantine')).filter((n) => n.endsWith('.json'));

describe('quarantine mode has no per-client bound', () => {
  it('maxUnknownRecipientsPerIp counts quarantine decisions across sessions: the 6th RCPT gets 421 4.7.0, later connections are refused at the greeting', async () => {
    const app = await start({ maxUnknownRecipientsPerIp: 5, maxUnknownRecipients: 100 }, 'quarantine');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await sendMessage(app.port, {
        from: 'flood@client.test',
        to: [`nobody${i}@example.test`],
        raw: simpleMessage(),
      });
      ids.push(queuedId(r.response));
    }
    const { client, sid } = await connectWithSid(app.port, app.events);
    try {
      await client.begin('flood@client.test');
      expect((await client.cmd('RCPT TO:<nobody4@example.test>')).line).toBe('250 2.1.5 Accepted');
      expect((await client.cmd('RCPT TO:<nobody5@example.test>')).line).toBe(
        '421 4.7.0 too many unknown recipients from your address, try again later',
      );
    } finally {
      client.close();
    }
    const e = await app.events.waitFor('rcpt', (x) => x.rcpt === 'nobody5@example.test');
    expect(e).toEqual({
      event: 'rcpt',
      sid,
      from: 'flood@client.test',
      rcpt: 'nobody5@example.test',
      decision: 'limited',
      code: 421,
      reason: 'max-unknown-recipients-per-ip',
    });
    const next = await RawSmtp.connect(app.port);
    expect(next.greeting?.line).toBe('421 4.7.0 too many unknown recipients from your address, try again later');
    next.client.close();
    // the four messages sent before the limit, each its own entry; nothing of the refused session
    expect(entries(app)).toEqual(ids.map((id) => `${id}.json`).sort());
  });

  it('maxUnknownRecipients per session counts quarantine decisions too', async () => {
    const app = await start({ maxUnknownRecipientsPerIp: 0, maxUnknownRecipients: 3 }, 'quarantine');
    const { client } = await RawSmtp.connect(app.port);
    try {
      await client.begin('flood@client.test');
      for (let i = 0; i < 3; i++)
        expect((await client.cmd(`RCPT TO:<nobody${i}@example.test>`)).line).toBe('250 2.1.5 Accepted');
      expect((await client.cmd('RCPT TO:<nobody3@example.test>')).line).toBe(
        '421 4.7.0 too many unknown recipients, closing connection',
      );
    } finally {
      client.close();
    }
  });

  it('observe mode counts toward neither limit (SPEC §3): it must not change what senders see', async () => {
    const app = await start({ maxUnknownRecipientsPerIp: 2, maxUnknownRecipients: 2 }, 'observe');
    const { client } = await RawSmtp.connect(app.port);
    try {
      await client.begin('s@client.test');
      for (let i = 0; i < 4; i++)
        expect((await client.cmd(`RCPT TO:<nobody${i}@example.test>`)).line).toBe('250 2.1.5 Accepted');
    } finally {
      client.close();
    }
  });
});

describe('quarantine size quota (quarantine.maxSize)', () => {
  it('past maxSize a quarantine RCPT gets 452 4.3.1, logged with reason quarantine-full and a quota event; known recipients still get 250', async () => {
    const app = await start({ maxUnknownRecipientsPerIp: 0, maxUnknownRecipients: 0 }, 'quarantine', {
      maxSize: '20KB',
    });
    const body = 'x'.repeat(8 * 1024);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await sendMessage(app.port, {
        from: 's@client.test',
        to: [`nobody${i}@example.test`],
        raw: simpleMessage({ body }),
      });
      ids.push(queuedId(r.response));
    }
    // 3 × ~8.5 KB is past 20 KB: the next unknown recipient waits
    const { client, sid } = await connectWithSid(app.port, app.events);
    try {
      await client.begin('s@client.test');
      expect((await client.cmd('RCPT TO:<nobody9@example.test>')).line).toBe(
        '452 4.3.1 insufficient system storage: quarantine full, try again later',
      );
      expect((await client.cmd('RCPT TO:<alice@example.test>')).line).toBe('250 2.1.5 Accepted');
    } finally {
      client.close();
    }
    expect(await app.events.waitFor('rcpt', (x) => x.rcpt === 'nobody9@example.test')).toEqual({
      event: 'rcpt',
      sid,
      from: 's@client.test',
      rcpt: 'nobody9@example.test',
      decision: 'deferred',
      code: 452,
      reason: 'quarantine-full',
    });
    // what the three stored messages hold: each one's size is counted the moment it is committed
    const stored = ids.reduce((sum, id) => sum + statSync(path.join(app.dataDir, 'quarantine', `${id}.eml`)).size, 0);
    expect(app.events.of('quota')).toEqual([{ event: 'quota', full: true, bytes: stored, limit: 20 * 1024 }]);
    expect(entries(app)).toEqual(ids.map((id) => `${id}.json`).sort());
  });

  it('quarantine.maxSize defaults to 1 GB; 0 turns the quota off', async () => {
    const app = await start({}, 'quarantine', { maxSize: 0 });
    expect(app.config.quarantine.maxSize).toBe(0);
    const r = await sendMessage(app.port, { from: 's@client.test', to: ['nobody@example.test'], raw: simpleMessage() });
    expect(entries(app)).toEqual([`${queuedId(r.response)}.json`]);
    await app.stop();
    t = await start({}, 'quarantine');
    expect(t.config.quarantine.maxSize).toBe(1024 ** 3);
  });
});
