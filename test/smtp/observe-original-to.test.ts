// Issue #15 item 5, SPEC §3 observe mode "(with X-Original-To …)": a message for an unknown address
// is delivered to the observe mailbox, and the copy says which address the sender used. Real
// sockets, real Maildir files, a real upstream smtp-server.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listDir, queuedId } from '../helpers/files.js';
import { sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, type RawConfig, type TestApp } from '../helpers/start-app.js';
import { startSink, type SinkMessage, type UpstreamSink } from '../helpers/upstream-sink.js';

let running: Array<{ stop(): Promise<void> } | { close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.reverse()) await ('stop' in r ? r.stop() : r.close());
  running = [];
});

const observeDomain = {
  domains: [
    { name: 'example.test', unknownRecipients: 'observe', observeMailbox: 'alice', recipients: ['alice', 'bob'] },
  ],
};

async function app(overrides: RawConfig = {}, spoolMemoryLimit?: number): Promise<TestApp> {
  const t = await startApp(
    { ...observeDomain, ...overrides },
    spoolMemoryLimit === undefined ? {} : { deps: { spoolMemoryLimit } },
  );
  running.push(t);
  return t;
}

async function sink(): Promise<UpstreamSink> {
  const s = await startSink();
  running.push(s);
  return s;
}

const upstream = (port: number): RawConfig => ({
  delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port, timeout: '5s' } },
});

/** The one file in a mailbox's new/, with its Maildir S= size checked against the file. */
function onlyCopy(t: TestApp, mailbox: string): string {
  const dir = path.join(t.dataDir, 'mail', 'example.test', mailbox, 'new');
  const files = listDir(dir);
  expect(files, mailbox).toHaveLength(1);
  const file = path.join(dir, files[0] ?? '');
  expect(Number(/,S=(\d+)$/.exec(file)?.[1])).toBe(statSync(file).size);
  return readFileSync(file, 'utf8');
}

/** Everything above our Received: line, which is where a copy's own fields go. */
function prepended(copy: string): string {
  return copy.slice(0, copy.indexOf('Received: from client.test'));
}

const RAW = simpleMessage({
  subject: 'observed',
  // what a sender may claim: never mistaken for ours, and left as it came
  headers: { 'X-Original-To': 'alice@example.test', 'Delivered-To': 'alice@example.test' },
  body: 'Body line.',
});

describe('observe mode records the original recipient (Maildir)', () => {
  it('one X-Original-To per unknown address on the observe mailbox copy, above our Received:; the known recipient gets none', async () => {
    const t = await app();
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['x@example.test', 'bob@example.test', 'Y@example.test'],
      raw: RAW,
    });
    expect(r.code).toBe(250);
    const qid = queuedId(r.response);
    const alice = onlyCopy(t, 'alice');
    expect(prepended(alice)).toBe('X-Original-To: x@example.test\r\nX-Original-To: y@example.test\r\n');
    // the sender's own fields follow our Received:, byte for byte, and the body is whole
    expect(alice).toContain(`with ESMTP id ${qid};`);
    expect(alice.endsWith(RAW)).toBe(true);
    const bob = onlyCopy(t, 'bob');
    expect(prepended(bob)).toBe('');
    expect(bob.endsWith(RAW)).toBe(true);
    const e = await t.events.waitFor('message', (m) => m.qid === qid);
    expect(e.delivered).toEqual(['bob@example.test']);
    expect(e.observed).toEqual(['x@example.test', 'y@example.test']);
  });

  it('the observe mailbox and an unknown address in one transaction: one copy naming both', async () => {
    const t = await app();
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'nobody@example.test'],
      raw: RAW,
    });
    expect(r.code).toBe(250);
    expect(prepended(onlyCopy(t, 'alice'))).toBe(
      'X-Original-To: alice@example.test\r\nX-Original-To: nobody@example.test\r\n',
    );
  });

  it('a message larger than the memory spool is copied behind the header whole', async () => {
    const t = await app({}, 0);
    const body = `${'0123456789abcdef'.repeat(64)}\r\n`.repeat(200); // ~210 KB
    const raw = simpleMessage({ subject: 'large', body });
    const r = await sendMessage(t.port, { from: 'sender@client.test', to: ['x@example.test'], raw });
    expect(r.code).toBe(250);
    const alice = onlyCopy(t, 'alice');
    expect(prepended(alice)).toBe('X-Original-To: x@example.test\r\n');
    expect(alice.endsWith(raw)).toBe(true);
  });

  it('a known recipient alone gets the message exactly as before: no field of ours but Received:', async () => {
    const t = await app();
    const r = await sendMessage(t.port, { from: 'sender@client.test', to: ['bob@example.test'], raw: RAW });
    expect(r.code).toBe(250);
    const bob = onlyCopy(t, 'bob');
    expect(bob.startsWith('Received: from client.test')).toBe(true);
    expect(bob.endsWith(RAW)).toBe(true);
  });
});

describe('observe mode records the original recipient (SMTP upstream)', () => {
  const byRcpt = (messages: SinkMessage[]): Map<string, SinkMessage> =>
    new Map(messages.map((m) => [m.to.join(','), m]));

  it('known recipients in one upstream transaction without it; the observe mailbox in its own, with one X-Original-To per address', async () => {
    const s = await sink();
    const t = await app(upstream(s.port));
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['x@example.test', 'bob@example.test', 'y@example.test'],
      raw: RAW,
    });
    expect(r.code).toBe(250);
    const qid = queuedId(r.response);
    const got = byRcpt(await s.waitForMessages(2));
    expect([...got.keys()].sort()).toEqual(['alice@example.test', 'bob@example.test']);
    const alice = got.get('alice@example.test');
    const bob = got.get('bob@example.test');
    expect(alice?.from).toBe('sender@client.test');
    const aliceRaw = alice?.raw.toString('utf8') ?? '';
    expect(prepended(aliceRaw)).toBe('X-Original-To: x@example.test\r\nX-Original-To: y@example.test\r\n');
    expect(aliceRaw).toContain(`with ESMTP id ${qid};`);
    expect(aliceRaw.endsWith(RAW)).toBe(true);
    const bobRaw = bob?.raw.toString('utf8') ?? '';
    expect(bobRaw.startsWith('Received: from client.test')).toBe(true);
    expect(bobRaw.endsWith(RAW)).toBe(true);
    const e = await t.events.waitFor('message', (m) => m.qid === qid);
    expect(e.delivered).toEqual(['bob@example.test']);
    expect(e.observed).toEqual(['x@example.test', 'y@example.test']);
  });

  it('a spooled (file) message reaches the upstream behind the header whole', async () => {
    const s = await sink();
    const t = await app(upstream(s.port), 0);
    const raw = simpleMessage({ subject: 'large', body: `${'z'.repeat(900)}\r\n`.repeat(300) });
    const r = await sendMessage(t.port, { from: 'sender@client.test', to: ['x@example.test'], raw });
    expect(r.code).toBe(250);
    const [m] = await s.waitForMessages(1);
    expect(m?.to).toEqual(['alice@example.test']);
    const text = m?.raw.toString('utf8') ?? '';
    expect(prepended(text)).toBe('X-Original-To: x@example.test\r\n');
    expect(text.endsWith(raw)).toBe(true);
  });

  it('the upstream refusing the observe copy for now: 451 for the whole transaction (the known recipient may see it twice)', async () => {
    const s = await sink();
    s.rcptReplies.set('alice@example.test', { code: 450, text: '4.2.1 mailbox busy' });
    const t = await app(upstream(s.port));
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['bob@example.test', 'x@example.test'],
      raw: RAW,
    });
    expect(r.code).toBe(451);
    expect(r.response).toBe('451 4.4.1 mailbox server temporarily unavailable, try again later [upstream-tempfail]');
    // known recipients go first: bob has it, and gets it again when the sender retries
    expect(s.messages.map((m) => m.to)).toEqual([['bob@example.test']]);
  });

  it('the upstream refusing the observe copy for good while it took the known one: 250, logged as refused', async () => {
    const s = await sink();
    s.rcptReplies.set('alice@example.test', { code: 550, text: '5.1.1 no such mailbox' });
    const t = await app(upstream(s.port));
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['bob@example.test', 'x@example.test'],
      raw: RAW,
    });
    expect(r.code).toBe(250);
    const e = await t.events.waitFor('message', (m) => m.qid === queuedId(r.response));
    expect(e.delivered).toEqual(['bob@example.test']);
    expect(e.refused).toEqual(['alice@example.test']);
    expect(s.messages.map((m) => m.to)).toEqual([['bob@example.test']]);
  });
});
