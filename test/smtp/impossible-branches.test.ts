// States the SMTP layer makes impossible still refuse (4xx) instead of accepting: a RCPT without a
// transaction must never be a 250, and DATA must never answer `queued` for recipients it cannot match.
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../src/smtp/server.js';
import { formatReply, replyForFailure } from '../../src/smtp/replies.js';
import { listFilesRecursive } from '../helpers/files.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

let t: TestApp | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

const info = (sid: string): SessionInfo => ({
  sid,
  remoteAddress: '127.0.0.1',
  clientHostname: '[127.0.0.1]',
  helo: 'client.test',
  secure: false,
  protocol: 'ESMTP',
});

describe('impossible branches refuse', () => {
  it('rcptTo with no transaction (no MAIL FROM) → 451 4.3.0 [no-transaction], logged, not a 250', async () => {
    t = await startApp({ domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'] }] });
    const gw = t.app.gateway;
    expect(await gw.connect(info('s1'))).toBeNull();
    const r = await gw.rcptTo(info('s1'), 'alice@example.test', {});
    expect(r).toEqual({
      code: 451,
      enhanced: '4.3.0',
      text: 'local error in processing, try again later [no-transaction]',
    });
    expect(await t.events.waitFor('error', (e) => e.sid === 's1')).toEqual({
      event: 'error',
      where: 'rcpt',
      sid: 's1',
      error: 'no-transaction',
      reason: 'no-transaction',
    });
    // and a session that never connected
    expect(await gw.rcptTo(info('nobody'), 'alice@example.test', {})).toEqual({
      code: 451,
      enhanced: '4.3.0',
      text: 'local error in processing, try again later [no-transaction]',
    });
    expect(await gw.mailFrom(info('nobody'), 's@client.test', {})).toEqual({
      code: 451,
      enhanced: '4.3.0',
      text: 'local error in processing, try again later [no-session]',
    });
    expect(t.events.of('error').filter((e) => e.sid === 'nobody')).toEqual([
      { event: 'error', where: 'rcpt', sid: 'nobody', error: 'no-transaction', reason: 'no-transaction' },
      { event: 'error', where: 'mail', sid: 'nobody', error: 'no-session', reason: 'no-session' },
    ]);
  });

  it('data with an envelope recipient the transaction never accepted → 451 [recipient-mismatch], the message is read but stored nowhere', async () => {
    t = await startApp({
      domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice', 'bob'] }],
    });
    const gw = t.app.gateway;
    expect(await gw.connect(info('s2'))).toBeNull();
    expect(await gw.mailFrom(info('s2'), 's@client.test', {})).toBeNull();
    expect(await gw.rcptTo(info('s2'), 'alice@example.test', {})).toBeNull();
    const stream = Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]);
    // a plain Readable stands in for smtp-server's DATA stream: the gateway only reads it
    const r = await gw.data(info('s2'), stream as unknown as Parameters<typeof gw.data>[1], [
      'alice@example.test',
      'bob@example.test',
    ]);
    expect(r).toEqual({
      code: 451,
      enhanced: '4.3.0',
      text: 'local error in processing, try again later [recipient-mismatch]',
    });
    expect(stream.readableEnded).toBe(true);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
    expect(listFilesRecursive(path.join(t.dataDir, 'quarantine'))).toEqual([]);
    expect(await t.events.waitFor('error', (e) => e.sid === 's2')).toEqual({
      event: 'error',
      where: 'data',
      sid: 's2',
      error: 'recipient-mismatch',
      reason: 'recipient-mismatch',
    });
  });
});

describe('a hook that threw', () => {
  it('is logged as an error event with reason internal-error, the code its 451 carries', async () => {
    t = await startApp({ domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'] }] });
    t.app.gateway.failed('data', 's9', new Error('boom'));
    expect(await t.events.waitFor('error', (e) => e.sid === 's9')).toEqual({
      event: 'error',
      where: 'data',
      sid: 's9',
      error: 'boom',
      reason: 'internal-error',
    });
    expect(formatReply(replyForFailure(new Error('boom')))).toBe(
      '451 4.3.0 local error in processing, try again later [internal-error]',
    );
  });
});
