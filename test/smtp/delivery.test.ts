// Delivery for known recipients over real sockets (SPEC §3 delivery, §4 durability and replies, §7
// `message` event): Maildir files on disk, or a real upstream smtp-server sink answering as scripted.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { LogEvent } from '../../src/observability/events.js';
import { listDir, listDirsRecursive, listFilesRecursive, modeOf, queuedId } from '../helpers/files.js';
import { composeReceivedHeader } from '../../src/message/trace-header.js';
import { RawSmtp, sendMessage, sendVerbatim, simpleMessage, type SendResult } from '../helpers/smtp-client.js';
import { startApp, type RawConfig, type TestApp } from '../helpers/start-app.js';
import { closedPort, startSink, type UpstreamSink } from '../helpers/upstream-sink.js';

type MessageEvent = Extract<LogEvent, { event: 'message' }>;

const HOSTNAME = 'mx.test.invalid';
const MAILDIR_NAME = /^(\d+)\.M(\d+)P(\d+)Q(\d+)R([0-9a-f]{8})\.([^/]+),S=(\d+)$/;
const RFC5322_DATE =
  '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000';
const TEMPFAIL = (reason: string): string =>
  `451 4.4.1 mailbox server temporarily unavailable, try again later [${reason}]`;

/** Our trace header as it must open every stored/relayed message. `forRcpt` only for one recipient. */
function receivedPattern(qid: string, forRcpt: string | null): RegExp {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const forClause = forRcpt === null ? '' : `\\r\\n\\tfor <${esc(forRcpt)}>`;
  return new RegExp(
    `^Received: from client\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby ${esc(HOSTNAME)} \\(catchall-guard\\) with ESMTP id ${esc(qid)}${forClause};\\r\\n\\t${RFC5322_DATE}\\r\\n`,
  );
}

let running: Array<{ stop(): Promise<void> } | { close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.reverse()) await ('stop' in r ? r.stop() : r.close());
  running = [];
});

async function app(overrides: RawConfig = {}): Promise<TestApp> {
  const t = await startApp({
    domains: [{ name: 'example.test', unknownRecipients: 'reject', recipients: ['alice', 'bob'] }],
    ...overrides,
  });
  running.push(t);
  return t;
}

async function sink(mode: UpstreamSink['mode'] = 'accept'): Promise<UpstreamSink> {
  const s = await startSink(mode);
  running.push(s);
  return s;
}

const upstream = (port: number, timeout = '5s'): RawConfig => ({
  delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port, timeout } },
});

/** A transaction as the client saw it, with the wall-clock window it ran in. */
interface Sent extends SendResult {
  readonly before: number;
  readonly after: number;
}

async function send(port: number, opts: Parameters<typeof sendMessage>[1]): Promise<Sent> {
  const before = Date.now();
  const r = await sendMessage(port, opts);
  return { ...r, before, after: Date.now() };
}

/**
 * The `message` event of one transaction: its session is the one session of the app, whose `rcpt`
 * events name exactly `rcpts` (as logged, in order), and its duration fits in the client's window.
 */
async function messageEvent(t: TestApp, qid: string, rcpts: string[], sent: Sent): Promise<MessageEvent> {
  const e = await t.events.waitFor('message', (m) => m.qid === qid);
  expect(t.events.of('connect').map((c) => c.sid)).toEqual([e.sid]);
  expect(t.events.of('rcpt').map((r) => [r.sid, r.rcpt])).toEqual(rcpts.map((r) => [e.sid, r]));
  expect(e.durationMs).toBeGreaterThanOrEqual(0);
  expect(e.durationMs).toBeLessThanOrEqual(sent.after - sent.before);
  return e;
}

/** The one `message` event emitted by a transaction that got no queue id on the wire. */
async function onlyMessageEvent(t: TestApp, sent: Sent): Promise<MessageEvent> {
  await t.events.waitFor('message');
  const all = t.events.of('message');
  expect(all).toHaveLength(1);
  const e = all[0];
  if (!e) throw new Error('no message event');
  expect(t.events.of('connect').map((c) => c.sid)).toEqual([e.sid]);
  expect(e.qid).toMatch(/^[A-Za-z0-9_-]+$/);
  expect(e.durationMs).toBeGreaterThanOrEqual(0);
  expect(e.durationMs).toBeLessThanOrEqual(sent.after - sent.before);
  return e;
}

/** The size a stored copy of `raw` has: the message plus our trace header (only its length matters). */
function storedSize(qid: string, recipients: string[], raw: string): number {
  const trace = composeReceivedHeader({
    helo: 'client.test',
    clientHostname: '[127.0.0.1]',
    remoteAddress: '127.0.0.1',
    hostname: HOSTNAME,
    protocol: 'ESMTP',
    qid,
    recipients,
    date: new Date(),
  });
  return Buffer.byteLength(trace) + Buffer.byteLength(raw);
}

function maildirNew(t: TestApp, mailbox: string): string {
  return path.join(t.dataDir, 'mail', 'example.test', mailbox, 'new');
}

function nothingKeptLocally(t: TestApp): void {
  expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
  expect(listFilesRecursive(path.join(t.dataDir, 'quarantine'))).toEqual([]);
  expect(listFilesRecursive(path.join(t.dataDir, 'spool'))).toEqual([]);
}

describe('Maildir delivery', () => {
  it('one message to alice: standard Maildir name in new/, 0600 file, 0700 dirs, our Received header first, tmp/ empty', async () => {
    const t = await app();
    const raw = simpleMessage({ subject: 'maildir one', messageId: '<maildir-one@client.test>', body: 'Body line.' });
    const r = await send(t.port, { from: 'sender@client.test', to: ['alice@example.test'], raw });
    expect(r.ok).toBe(true);
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
    const qid = queuedId(r.response);

    const dir = maildirNew(t, 'alice');
    const files = listDir(dir);
    expect(files).toHaveLength(1);
    const name = files[0] ?? '';
    const m = MAILDIR_NAME.exec(name);
    expect(m, name).not.toBeNull();
    const file = path.join(dir, name);
    const st = statSync(file);
    expect(Number(m?.[7])).toBe(st.size);
    expect(Number(m?.[3])).toBe(process.pid);
    // seconds and microseconds: a moment within the transaction
    const deliveredAt = Number(m?.[1]) * 1000 + Number(m?.[2]) / 1000;
    expect(deliveredAt).toBeGreaterThanOrEqual(r.before);
    expect(deliveredAt).toBeLessThanOrEqual(r.after);
    expect(m?.[6]).toBe(hostname().replace(/\//g, '\\057').replace(/:/g, '\\072'));
    expect(modeOf(file)).toBe(0o600);

    const text = readFileSync(file, 'latin1');
    expect(text).toMatch(receivedPattern(qid, 'alice@example.test'));
    // the message follows the trace header byte for byte
    expect(text.endsWith(raw)).toBe(true);
    expect(text.length - raw.length).toBe(text.indexOf('From: Sender'));

    for (const sub of ['tmp', 'cur'])
      expect(listDir(path.join(t.dataDir, 'mail', 'example.test', 'alice', sub))).toEqual([]);
    const dirs = listDirsRecursive(path.join(t.dataDir, 'mail'));
    expect(dirs.map((d) => path.relative(t.dataDir, d))).toEqual(
      [
        'mail/example.test',
        'mail/example.test/alice',
        'mail/example.test/alice/cur',
        'mail/example.test/alice/new',
        'mail/example.test/alice/tmp',
      ].map((p) => p.split('/').join(path.sep)),
    );
    for (const d of [path.join(t.dataDir, 'mail'), ...dirs]) expect(modeOf(d), d).toBe(0o700);
    // the spool copy is gone, nothing was quarantined
    expect(listFilesRecursive(path.join(t.dataDir, 'spool'))).toEqual([]);
    expect(listFilesRecursive(path.join(t.dataDir, 'quarantine'))).toEqual([]);

    const e = await messageEvent(t, qid, ['alice@example.test'], r);
    expect(e).toEqual({
      event: 'message',
      sid: e.sid,
      qid,
      from: 'sender@client.test',
      delivered: ['alice@example.test'],
      quarantined: [],
      size: st.size,
      messageId: '<maildir-one@client.test>',
      durationMs: e.durationMs,
      code: 250,
      outcome: 'stored',
    });
  });

  it("subaddress alice+tag lands in alice's Maildir, Received names the envelope address", async () => {
    const t = await app();
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['alice+tag@example.test'],
      raw: simpleMessage({ messageId: '<sub@client.test>' }),
    });
    const qid = queuedId(r.response);
    const files = listDir(maildirNew(t, 'alice'));
    expect(files).toHaveLength(1);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([
      path.join('example.test', 'alice', 'new', files[0] ?? ''),
    ]);
    expect(readFileSync(path.join(maildirNew(t, 'alice'), files[0] ?? ''), 'latin1')).toMatch(
      receivedPattern(qid, 'alice+tag@example.test'),
    );
    const e = await messageEvent(t, qid, ['alice+tag@example.test'], r);
    expect(e).toMatchObject({
      delivered: ['alice+tag@example.test'],
      quarantined: [],
      messageId: '<sub@client.test>',
      from: 'sender@client.test',
      code: 250,
      outcome: 'stored',
    });
  });

  it('upper-case ALICE@EXAMPLE.TEST lands in the lower-case alice Maildir', async () => {
    const t = await app();
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['ALICE@EXAMPLE.TEST'],
      raw: simpleMessage(),
    });
    const qid = queuedId(r.response);
    const files = listDir(maildirNew(t, 'alice'));
    expect(files).toHaveLength(1);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([
      path.join('example.test', 'alice', 'new', files[0] ?? ''),
    ]);
    expect((await messageEvent(t, qid, ['alice@example.test'], r)).delivered).toEqual(['alice@example.test']);
  });

  it('two recipients of the same mailbox (alice, alice+tag) → one copy; no "for" clause with two recipients', async () => {
    const t = await app();
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'alice+tag@example.test'],
      raw: simpleMessage(),
    });
    const qid = queuedId(r.response);
    const files = listDir(maildirNew(t, 'alice'));
    expect(files).toHaveLength(1);
    const text = readFileSync(path.join(maildirNew(t, 'alice'), files[0] ?? ''), 'latin1');
    expect(text).toMatch(receivedPattern(qid, null));
    expect(text).not.toMatch(/^\tfor </m);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([
      path.join('example.test', 'alice', 'new', files[0] ?? ''),
    ]);
    const e = await messageEvent(t, qid, ['alice@example.test', 'alice+tag@example.test'], r);
    // in RCPT order
    expect(e.delivered).toEqual(['alice@example.test', 'alice+tag@example.test']);
  });

  it('two mailboxes (alice, bob) → one copy each, same content', async () => {
    const t = await app();
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'bob@example.test'],
      raw: simpleMessage({ body: 'for both' }),
    });
    const qid = queuedId(r.response);
    const a = listDir(maildirNew(t, 'alice'));
    const b = listDir(maildirNew(t, 'bob'));
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    expect(a[0]).not.toBe(b[0]);
    const ta = readFileSync(path.join(maildirNew(t, 'alice'), a[0] ?? ''));
    const tb = readFileSync(path.join(maildirNew(t, 'bob'), b[0] ?? ''));
    expect(ta.equals(tb)).toBe(true);
    expect(ta.toString('latin1')).toMatch(receivedPattern(qid, null));
    for (const f of [path.join(maildirNew(t, 'alice'), a[0] ?? ''), path.join(maildirNew(t, 'bob'), b[0] ?? '')])
      expect(modeOf(f)).toBe(0o600);
    expect((await messageEvent(t, qid, ['alice@example.test', 'bob@example.test'], r)).delivered).toEqual([
      'alice@example.test',
      'bob@example.test',
    ]);
  });

  it('null sender <> is accepted and stored; the message event has from ""', async () => {
    const t = await app();
    const before = Date.now();
    const { client } = await RawSmtp.connect(t.port);
    let line: string;
    try {
      expect((await client.cmd('EHLO client.test')).code).toBe(250);
      expect((await client.cmd('MAIL FROM:<>')).line).toBe('250 2.1.0 Accepted');
      expect((await client.cmd('RCPT TO:<postmaster@example.test>')).line).toBe('250 2.1.5 Accepted');
      expect((await client.cmd('DATA')).code).toBe(354);
      client.write(simpleMessage({ messageId: '<bounce@client.test>' }) + '.\r\n');
      line = (await client.read()).line;
    } finally {
      client.close();
    }
    const window: Sent = { ok: true, code: 250, response: line, before, after: Date.now() };
    const qid = queuedId(line);
    const files = listDir(maildirNew(t, 'postmaster'));
    expect(files).toHaveLength(1);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([
      path.join('example.test', 'postmaster', 'new', files[0] ?? ''),
    ]);
    const e = await messageEvent(t, qid, ['postmaster@example.test'], window);
    expect(e).toMatchObject({
      from: '',
      delivered: ['postmaster@example.test'],
      messageId: '<bounce@client.test>',
      code: 250,
      outcome: 'stored',
    });
  });
});

describe('upstream delivery (delivery.type smtp)', () => {
  it('upstream answers 250: message arrives with our Received header, envelope from/to as given, nothing kept locally', async () => {
    const s = await sink('accept');
    const t = await app(upstream(s.port));
    const raw = simpleMessage({ subject: 'up', messageId: '<up-250@client.test>', body: 'Relayed body.' });
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'bob+x@example.test'],
      raw,
    });
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
    const qid = queuedId(r.response);
    const [got] = await s.waitForMessages(1);
    expect(s.messages).toHaveLength(1);
    expect(got?.from).toBe('sender@client.test');
    expect(got?.to).toEqual(['alice@example.test', 'bob+x@example.test']);
    const text = got?.raw.toString('latin1') ?? '';
    expect(text).toMatch(receivedPattern(qid, null));
    expect(text.endsWith(raw)).toBe(true);
    nothingKeptLocally(t);
    const e = await messageEvent(t, qid, ['alice@example.test', 'bob+x@example.test'], r);
    expect(e).toEqual({
      event: 'message',
      sid: e.sid,
      qid,
      from: 'sender@client.test',
      delivered: ['alice@example.test', 'bob+x@example.test'],
      quarantined: [],
      size: text.length,
      messageId: '<up-250@client.test>',
      durationMs: e.durationMs,
      code: 250,
      outcome: 'stored',
    });
  });

  it('one recipient: the Received header names it; subaddress is relayed as the envelope address', async () => {
    const s = await sink('accept');
    const t = await app(upstream(s.port));
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['Alice+Orders@Example.Test'],
      raw: simpleMessage(),
    });
    const qid = queuedId(r.response);
    const [got] = await s.waitForMessages(1);
    expect(got?.to).toEqual(['alice+orders@example.test']);
    expect(got?.raw.toString('latin1')).toMatch(receivedPattern(qid, 'alice+orders@example.test'));
  });

  it('sender read as an address list: MAIL FROM:<root,x@attacker.test> reaches the upstream as one quoted sender, one RCPT', async () => {
    const s = await sink('accept');
    const t = await app(upstream(s.port));
    const r = await sendVerbatim(t.port, {
      from: 'root,x@attacker.test',
      to: ['alice@example.test'],
      raw: simpleMessage(),
    });
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
    const [got] = await s.waitForMessages(1);
    expect(got?.from).toBe('"root,x"@attacker.test');
    expect(got?.to).toEqual(['alice@example.test']);
  });

  it('null sender <> is relayed as the null sender', async () => {
    const s = await sink('accept');
    const t = await app(upstream(s.port));
    const before = Date.now();
    const { client } = await RawSmtp.connect(t.port);
    let line: string;
    try {
      expect((await client.cmd('EHLO client.test')).code).toBe(250);
      expect((await client.cmd('MAIL FROM:<>')).line).toBe('250 2.1.0 Accepted');
      expect((await client.cmd('RCPT TO:<alice@example.test>')).line).toBe('250 2.1.5 Accepted');
      expect((await client.cmd('DATA')).code).toBe(354);
      client.write(simpleMessage({ messageId: '<null-sender@client.test>' }) + '.\r\n');
      line = (await client.read()).line;
    } finally {
      client.close();
    }
    const window: Sent = { ok: true, code: 250, response: line, before, after: Date.now() };
    const qid = queuedId(line);
    const [got] = await s.waitForMessages(1);
    expect(got?.from).toBe('');
    expect(got?.to).toEqual(['alice@example.test']);
    expect(got?.raw.toString('latin1')).toMatch(receivedPattern(qid, 'alice@example.test'));
    expect(await messageEvent(t, qid, ['alice@example.test'], window)).toMatchObject({
      from: '',
      delivered: ['alice@example.test'],
      quarantined: [],
      messageId: '<null-sender@client.test>',
      code: 250,
      outcome: 'stored',
    });
  });

  it('upstream answers 451 after DATA → our 451 4.4.1, nothing kept anywhere', async () => {
    const s = await sink('tempfail');
    const t = await app(upstream(s.port));
    const raw = simpleMessage({ messageId: '<up-451@client.test>' });
    const r = await send(t.port, { from: 'sender@client.test', to: ['alice@example.test'], raw });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(451);
    expect(r.response).toBe(TEMPFAIL('upstream-tempfail'));
    expect(s.messages).toEqual([]);
    nothingKeptLocally(t);
    const e = await onlyMessageEvent(t, r);
    expect(e).toEqual({
      event: 'message',
      sid: e.sid,
      qid: e.qid,
      from: 'sender@client.test',
      delivered: [],
      quarantined: [],
      // what was received: the message plus our trace header naming its one recipient
      size: storedSize(e.qid, ['alice@example.test'], raw),
      messageId: '<up-451@client.test>',
      durationMs: e.durationMs,
      code: 451,
      outcome: 'temporary',
      reason: 'upstream-tempfail',
      detail: '451 4.3.0 upstream is busy',
    });
  });

  it('upstream answers 550 5.7.1 after DATA → our 550 carrying 5.7.1, nothing kept', async () => {
    const s = await sink('reject');
    const t = await app(upstream(s.port));
    const raw = simpleMessage({ messageId: '<up-550@client.test>' });
    const r = await send(t.port, { from: 'sender@client.test', to: ['alice@example.test'], raw });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(550);
    expect(r.response).toBe('550 5.7.1 mailbox server refused the message: message refused by policy');
    expect(s.messages).toEqual([]);
    nothingKeptLocally(t);
    const e = await onlyMessageEvent(t, r);
    expect(e).toEqual({
      event: 'message',
      sid: e.sid,
      qid: e.qid,
      from: 'sender@client.test',
      delivered: [],
      quarantined: [],
      size: storedSize(e.qid, ['alice@example.test'], raw),
      messageId: '<up-550@client.test>',
      durationMs: e.durationMs,
      code: 550,
      outcome: 'permanent',
      reason: 'upstream-refused',
      detail: 'message refused by policy',
    });
  });

  it('upstream refuses every recipient at RCPT with 550 5.1.1 → our 550 5.1.1', async () => {
    const s = await sink('accept');
    s.rcptReplies.set('alice@example.test', { code: 550, text: '5.1.1 no such mailbox here' });
    const t = await app(upstream(s.port));
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test'],
      raw: simpleMessage(),
    });
    expect(r.code).toBe(550);
    expect(r.response).toBe('550 5.1.1 mailbox server refused the message: no such mailbox here');
    expect(s.messages).toEqual([]);
    nothingKeptLocally(t);
    expect(await onlyMessageEvent(t, r)).toMatchObject({
      code: 550,
      outcome: 'permanent',
      delivered: [],
      quarantined: [],
      reason: 'upstream-refused',
      detail: 'no such mailbox here',
    });
  });

  it('no upstream listening (closed port) → 451 4.4.1, nothing kept', async () => {
    const port = await closedPort();
    const t = await app(upstream(port));
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test'],
      raw: simpleMessage(),
    });
    expect(r.code).toBe(451);
    expect(r.response).toBe(TEMPFAIL('upstream-unreachable'));
    nothingKeptLocally(t);
    expect(await onlyMessageEvent(t, r)).toMatchObject({
      delivered: [],
      quarantined: [],
      code: 451,
      outcome: 'temporary',
      reason: 'upstream-unreachable',
      detail: 'ESOCKET',
    });
  });

  it('upstream hangs after DATA → timeout → 451 4.4.1, nothing kept', async () => {
    const s = await sink('hang');
    const t = await app(upstream(s.port, '1s'));
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test'],
      raw: simpleMessage(),
    });
    expect(r.code).toBe(451);
    expect(r.response).toBe(TEMPFAIL('upstream-timeout'));
    expect(s.messages).toEqual([]);
    nothingKeptLocally(t);
    expect(await onlyMessageEvent(t, r)).toMatchObject({
      code: 451,
      outcome: 'temporary',
      delivered: [],
      quarantined: [],
      reason: 'upstream-timeout',
      detail: 'ETIMEDOUT',
    });
  });

  it('upstream answers 4xx at RCPT for one of two recipients → our 451 4.4.1, nothing kept locally', async () => {
    const s = await sink('accept');
    s.rcptReplies.set('bob@example.test', { code: 450, text: '4.2.1 mailbox busy' });
    const t = await app(upstream(s.port));
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'bob@example.test'],
      raw: simpleMessage({ messageId: '<partial@client.test>' }),
    });
    expect(r.code).toBe(451);
    expect(r.response).toBe(TEMPFAIL('upstream-tempfail'));
    nothingKeptLocally(t);
    expect(await onlyMessageEvent(t, r)).toMatchObject({
      delivered: [],
      quarantined: [],
      code: 451,
      outcome: 'temporary',
      messageId: '<partial@client.test>',
      reason: 'upstream-tempfail',
      detail: '450 4.2.1 mailbox busy',
    });
  });

  // A permanent refusal of one recipient while the upstream takes the others: 250 (the others have it),
  // and the refused address is named in the message event, at warn level, never counted as delivered.
  it('upstream per-RCPT 5xx for one of two recipients → 250, the refused address is logged as refused, not delivered', async () => {
    const s = await sink('accept');
    s.rcptReplies.set('bob@example.test', { code: 550, text: '5.1.1 no such mailbox here' });
    const t = await app(upstream(s.port));
    const r = await send(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'bob@example.test'],
      raw: simpleMessage(),
    });
    const qid = queuedId(r.response);
    const e = await messageEvent(t, qid, ['alice@example.test', 'bob@example.test'], r);
    expect(e).toMatchObject({
      delivered: ['alice@example.test'],
      refused: ['bob@example.test'],
      quarantined: [],
      code: 250,
      outcome: 'stored',
    });
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]?.to).toEqual(['alice@example.test']);
  });
});
