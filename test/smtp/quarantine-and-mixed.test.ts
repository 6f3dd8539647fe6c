// Quarantine entries (SPEC §5), mixed known/unknown transactions (SPEC §4) and observe mode, over
// real sockets: the exact reply, the files on disk and the log events.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { composeReceivedHeader } from '../../src/message/trace-header.js';
import { listDir, listFilesRecursive, modeOf, pollUntil, queuedId } from '../helpers/files.js';
import { sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, type RawConfig, type TestApp } from '../helpers/start-app.js';
import { closedPort, startSink, type UpstreamSink } from '../helpers/upstream-sink.js';

const DAY = 86_400_000;
const TEMPFAIL = '451 4.4.1 mailbox server temporarily unavailable, try again later [upstream-tempfail]';
const QUEUED = /^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/;

let running: Array<{ stop(): Promise<void> } | { close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.reverse()) await ('stop' in r ? r.stop() : r.close());
  running = [];
});

async function app(overrides: RawConfig): Promise<TestApp> {
  const t = await startApp(overrides);
  running.push(t);
  return t;
}

/** Notices on, but aimed at a port nothing listens on, so no notice can leave this test. */
async function noticesOn(): Promise<RawConfig> {
  return {
    enabled: true,
    requireSenderAuth: 'none',
    transport: { type: 'smtp', host: '127.0.0.1', port: await closedPort() },
  };
}

const quarantineDomain = (recipients: string[] = ['alice', 'bob']): RawConfig[] => [
  { name: 'example.test', unknownRecipients: 'quarantine', recipients },
];

const qdir = (t: TestApp): string => path.join(t.dataDir, 'quarantine');

/** Our trace header for a transaction of this file's client, dated now (only its length is used). */
const traceHeader = (qid: string, recipients: string[]): string =>
  composeReceivedHeader({
    helo: 'client.test',
    clientHostname: '[127.0.0.1]',
    remoteAddress: '127.0.0.1',
    hostname: 'mx.test.invalid',
    protocol: 'ESMTP',
    qid,
    recipients,
    date: new Date(),
  });

function readJson(file: string): Record<string, unknown> {
  const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${file}: not a JSON object`);
  return v as Record<string, unknown>;
}

/** The one entry in the quarantine directory: exactly <id>.eml and <id>.json, nothing else (no temp files). */
function onlyEntry(t: TestApp, id: string): { eml: string; json: string; meta: Record<string, unknown> } {
  expect(listDir(qdir(t))).toEqual([`${id}.eml`, `${id}.json`]);
  const eml = path.join(qdir(t), `${id}.eml`);
  const json = path.join(qdir(t), `${id}.json`);
  return { eml, json, meta: readJson(json) };
}

/**
 * The entry's notice status once no notice attempt is in flight: a notice sender working on the entry
 * may mark it `sending` for a moment; with the transport on a closed port it falls back to `pending`.
 */
async function settledNoticeStatus(json: string): Promise<string> {
  return pollUntil(() => {
    const status = String((readJson(json)['notice'] as Record<string, unknown>)['status']);
    return status === 'sending' ? undefined : status;
  }, 'a settled notice status');
}

function receivedHeader(qid: string, forRcpt: string | null): RegExp {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `^Received: from client\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mx\\.test\\.invalid \\(catchall-guard\\) with ESMTP id ${esc(qid)}${forRcpt ? `\\r\\n\\tfor <${esc(forRcpt)}>` : ''};\\r\\n\\t[^\\r\\n]+\\r\\n`,
  );
}

describe("quarantine mode: an unknown recipient's message becomes <id>.eml + <id>.json", () => {
  it('SPEC §5 fields, expiresAt = receivedAt + retention, notice pending (notices on), 0600 files, no temp files', async () => {
    const t = await app({
      domains: quarantineDomain(),
      quarantine: { path: 'quarantine', retention: '2d' },
      notices: await noticesOn(),
    });
    const raw = simpleMessage({
      subject: 'Quarantine me',
      messageId: '<q-one@client.test>',
      body: 'Invoice for Jane, serial 12345.',
    });
    const before = Date.now();
    const r = await sendMessage(t.port, { from: 'Sender@Client.test', to: ['stranger@example.test'], raw });
    const after = Date.now();
    expect(r.response).toMatch(QUEUED);
    const id = queuedId(r.response);
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);

    const { eml, json, meta } = onlyEntry(t, id);
    expect(modeOf(eml)).toBe(0o600);
    expect(modeOf(json)).toBe(0o600);
    expect(modeOf(qdir(t))).toBe(0o700);
    const emlText = readFileSync(eml, 'latin1');
    expect(emlText).toMatch(receivedHeader(id, 'stranger@example.test'));
    expect(emlText.endsWith(raw)).toBe(true);

    expect(meta).toMatchObject({
      id,
      remoteAddress: '127.0.0.1',
      helo: 'client.test',
      mailFrom: 'Sender@client.test',
      recipients: ['stranger@example.test'],
      size: statSync(eml).size,
      messageId: '<q-one@client.test>',
      subject: 'Quarantine me',
    });
    // mailparser's rendering of `From: Sender <sender@client.test>`
    expect(meta['headerFrom']).toBe('"Sender" <sender@client.test>');
    const receivedAt = Date.parse(String(meta['receivedAt']));
    const expiresAt = Date.parse(String(meta['expiresAt']));
    expect(new Date(receivedAt).toISOString()).toBe(meta['receivedAt']);
    expect(new Date(expiresAt).toISOString()).toBe(meta['expiresAt']);
    // taken while the transaction ran, on the same clock as before/after
    expect(receivedAt).toBeGreaterThanOrEqual(before);
    expect(receivedAt).toBeLessThanOrEqual(after);
    expect(expiresAt - receivedAt).toBe(2 * DAY);
    expect(['pending', 'sending']).toContain((meta['notice'] as Record<string, unknown>)['status']);
    expect(await settledNoticeStatus(json)).toBe('pending');

    // nothing delivered, nothing left in the spool
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
    expect(listFilesRecursive(path.join(t.dataDir, 'spool'))).toEqual([]);

    const rc = await t.events.waitFor('rcpt', (e) => e.rcpt === 'stranger@example.test');
    expect(rc).toEqual({
      event: 'rcpt',
      sid: rc.sid,
      from: 'Sender@client.test',
      rcpt: 'stranger@example.test',
      decision: 'quarantine',
      code: 250,
    });
    expect(t.events.of('connect').map((e) => e.sid)).toEqual([rc.sid]);
    const m = await t.events.waitFor('message', (e) => e.qid === id);
    expect(m).toEqual({
      event: 'message',
      sid: rc.sid,
      qid: id,
      from: 'Sender@client.test',
      delivered: [],
      quarantined: ['stranger@example.test'],
      size: statSync(eml).size,
      messageId: '<q-one@client.test>',
      durationMs: m.durationMs,
      code: 250,
      outcome: 'stored',
    });
    // a duration of this transaction: within the time the client spent sending it
    expect(m.durationMs).toBeGreaterThanOrEqual(0);
    expect(m.durationMs).toBeLessThanOrEqual(after - before);
    // the body is never logged
    expect(t.events.lines.some((l) => l.includes('serial 12345'))).toBe(false);
  });

  it('notices disabled → notice.status "suppressed" with a reason', async () => {
    const t = await app({ domains: quarantineDomain(), notices: { enabled: false } });
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['stranger@example.test'],
      raw: simpleMessage({ subject: 'no notice' }),
    });
    const id = queuedId(r.response);
    const { meta } = onlyEntry(t, id);
    const notice = meta['notice'] as Record<string, unknown>;
    expect(notice).toEqual({ status: 'suppressed', reason: 'notices-disabled', attempts: 0 });
    // default retention 14d
    expect(Date.parse(String(meta['expiresAt'])) - Date.parse(String(meta['receivedAt']))).toBe(14 * DAY);
  });

  it('storeBody: false keeps the trace header and the message headers only; metadata still complete', async () => {
    const t = await app({
      domains: quarantineDomain(),
      quarantine: { path: 'quarantine', retention: '14d', storeBody: false },
      notices: { enabled: false },
    });
    const marker = 'BODY-MARKER-7f3a9c';
    const raw = simpleMessage({
      subject: 'headers only',
      messageId: '<hdr-only@client.test>',
      body: `Private text ${marker} here.`,
    });
    const r = await sendMessage(t.port, { from: 'sender@client.test', to: ['stranger@example.test'], raw });
    const id = queuedId(r.response);
    const { eml, json, meta } = onlyEntry(t, id);
    const text = readFileSync(eml, 'latin1');
    expect(text).not.toContain(marker);
    expect(text).toMatch(receivedHeader(id, 'stranger@example.test'));
    const headerBlock = raw.slice(0, raw.indexOf('\r\n\r\n') + 4);
    expect(text.endsWith(headerBlock)).toBe(true);
    expect(text).toContain('Subject: headers only\r\n');
    expect(modeOf(eml)).toBe(0o600);
    expect(modeOf(json)).toBe(0o600);
    expect(meta).toMatchObject({
      id,
      subject: 'headers only',
      messageId: '<hdr-only@client.test>',
      recipients: ['stranger@example.test'],
    });
    expect(readFileSync(json, 'utf8')).not.toContain(marker);
    expect(t.events.lines.some((l) => l.includes(marker))).toBe(false);
  });

  it('two unknown recipients in one transaction → one entry listing both; ids of later messages sort after', async () => {
    const t = await app({ domains: quarantineDomain(), notices: { enabled: false } });
    const r1 = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['stranger@example.test', 'Other.One@example.test'],
      raw: simpleMessage(),
    });
    const id1 = queuedId(r1.response);
    const { meta, eml } = onlyEntry(t, id1);
    // in RCPT order, lower-cased
    expect(meta['recipients']).toEqual(['stranger@example.test', 'other.one@example.test']);
    // two recipients: no "for" clause (Bcc privacy)
    expect(readFileSync(eml, 'latin1')).toMatch(receivedHeader(id1, null));
    const r2 = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['third@example.test'],
      raw: simpleMessage(),
    });
    const id2 = queuedId(r2.response);
    expect(id2 > id1).toBe(true);
    // `.<id>.lock` and `.<id>.json.<pid>.<time>.tmp` files come and go while the outbox records each
    // entry's SPF/DMARC evidence (a rewrite of the JSON under the entry's lock)
    expect(listDir(qdir(t)).filter((n) => !/^\..*\.(claim|lock|tmp)$/.test(n))).toEqual([
      `${id1}.eml`,
      `${id1}.json`,
      `${id2}.eml`,
      `${id2}.json`,
    ]);
  });
});

describe('mixed transactions (known + unknown recipients)', () => {
  it('quarantine mode, Maildir: alice gets it AND one entry lists only the unknown recipients', async () => {
    const t = await app({ domains: quarantineDomain(), notices: await noticesOn() });
    const raw = simpleMessage({ subject: 'mixed', messageId: '<mixed@client.test>' });
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'stranger@example.test', 'nobody@example.test'],
      raw,
    });
    expect(r.response).toMatch(QUEUED);
    const id = queuedId(r.response);

    const aliceNew = path.join(t.dataDir, 'mail', 'example.test', 'alice', 'new');
    const delivered = listDir(aliceNew);
    expect(delivered).toHaveLength(1);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([
      path.join('example.test', 'alice', 'new', delivered[0] ?? ''),
    ]);
    const mailText = readFileSync(path.join(aliceNew, delivered[0] ?? ''), 'latin1');
    expect(mailText).toMatch(receivedHeader(id, null));
    expect(mailText.endsWith(raw)).toBe(true);

    const { eml, json, meta } = onlyEntry(t, id);
    // the unknown recipients only, in RCPT order
    expect(meta['recipients']).toEqual(['stranger@example.test', 'nobody@example.test']);
    expect(await settledNoticeStatus(json)).toBe('pending');
    expect(readFileSync(eml, 'latin1')).toBe(mailText);

    const m = await t.events.waitFor('message', (e) => e.qid === id);
    expect(m).toEqual({
      event: 'message',
      sid: m.sid,
      qid: id,
      from: 'sender@client.test',
      delivered: ['alice@example.test'],
      quarantined: ['stranger@example.test', 'nobody@example.test'],
      size: statSync(eml).size,
      messageId: '<mixed@client.test>',
      durationMs: m.durationMs,
      code: 250,
      outcome: 'stored',
    });
    expect(t.events.of('connect').map((e) => e.sid)).toEqual([m.sid]);
    const decisions = t.events
      .of('rcpt')
      .filter((e) => e.sid === m.sid)
      .map((e) => [e.rcpt, e.decision]);
    expect(decisions).toEqual([
      ['alice@example.test', 'accept'],
      ['stranger@example.test', 'quarantine'],
      ['nobody@example.test', 'quarantine'],
    ]);
  });

  it('quarantine mode, upstream answers 451 → our 451 and NO quarantine entry left (nor temp files)', async () => {
    const sink: UpstreamSink = await startSink('tempfail');
    running.push(sink);
    const t = await app({
      domains: quarantineDomain(),
      delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: sink.port, timeout: '5s' } },
      notices: await noticesOn(),
    });
    const raw = simpleMessage({ messageId: '<mixed-451@client.test>' });
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'stranger@example.test'],
      raw,
    });
    expect(r.code).toBe(451);
    expect(r.response).toBe(TEMPFAIL);
    expect(listFilesRecursive(qdir(t))).toEqual([]);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
    expect(listFilesRecursive(path.join(t.dataDir, 'spool'))).toEqual([]);
    expect(sink.messages).toEqual([]);
    const m = await t.events.waitFor('message');
    expect(t.events.of('message')).toEqual([m]);
    expect(t.events.of('connect').map((e) => e.sid)).toEqual([m.sid]);
    expect(m).toEqual({
      event: 'message',
      sid: m.sid,
      qid: m.qid,
      from: 'sender@client.test',
      delivered: [],
      quarantined: [],
      // the message as received plus our trace header (two recipients: no "for" clause)
      size: Buffer.byteLength(traceHeader(m.qid, [])) + raw.length,
      messageId: '<mixed-451@client.test>',
      durationMs: m.durationMs,
      code: 451,
      outcome: 'temporary',
      reason: 'upstream-tempfail',
      detail: '451 4.3.0 upstream is busy',
    });
  });

  it('quarantine mode, upstream answers 250 → alice relayed upstream, stranger quarantined, both carry the same qid', async () => {
    const sink: UpstreamSink = await startSink('accept');
    running.push(sink);
    const t = await app({
      domains: quarantineDomain(),
      delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: sink.port, timeout: '5s' } },
      notices: { enabled: false },
    });
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'stranger@example.test'],
      raw: simpleMessage(),
    });
    const id = queuedId(r.response);
    const [got] = await sink.waitForMessages(1);
    expect(got?.to).toEqual(['alice@example.test']);
    expect(got?.raw.toString('latin1')).toMatch(receivedHeader(id, null));
    const { meta } = onlyEntry(t, id);
    expect(meta['recipients']).toEqual(['stranger@example.test']);
  });
});

describe('observe mode', () => {
  it('unknown recipient → delivered to the observeMailbox Maildir; message event has observed, rcpt decision observe; no quarantine', async () => {
    const t = await app({
      domains: [
        { name: 'example.test', unknownRecipients: 'observe', recipients: ['alice', 'bob'], observeMailbox: 'bob' },
      ],
    });
    const raw = simpleMessage({ subject: 'observed', messageId: '<observed@client.test>' });
    const r = await sendMessage(t.port, { from: 'sender@client.test', to: ['stranger@example.test'], raw });
    expect(r.response).toMatch(QUEUED);
    const id = queuedId(r.response);

    const bobNew = path.join(t.dataDir, 'mail', 'example.test', 'bob', 'new');
    const files = listDir(bobNew);
    expect(files).toHaveLength(1);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([
      path.join('example.test', 'bob', 'new', files[0] ?? ''),
    ]);
    const file = path.join(bobNew, files[0] ?? '');
    expect(modeOf(file)).toBe(0o600);
    const text = readFileSync(file, 'latin1');
    // the copy says whom it was for (SPEC §3), above our Received: line
    const originalTo = 'X-Original-To: stranger@example.test\r\n';
    expect(text.startsWith(originalTo)).toBe(true);
    expect(text.slice(originalTo.length)).toMatch(receivedHeader(id, 'stranger@example.test'));
    expect(text.endsWith(raw)).toBe(true);
    expect(listFilesRecursive(qdir(t))).toEqual([]);

    const rc = await t.events.waitFor('rcpt', (e) => e.rcpt === 'stranger@example.test');
    expect(rc).toEqual({
      event: 'rcpt',
      sid: rc.sid,
      from: 'sender@client.test',
      rcpt: 'stranger@example.test',
      decision: 'observe',
      code: 250,
    });
    expect(t.events.of('connect').map((e) => e.sid)).toEqual([rc.sid]);
    const m = await t.events.waitFor('message', (e) => e.qid === id);
    expect(m).toEqual({
      event: 'message',
      sid: rc.sid,
      qid: id,
      from: 'sender@client.test',
      delivered: [],
      quarantined: [],
      observed: ['stranger@example.test'],
      // the message as received: the X-Original-To of its copy is not part of it
      size: statSync(file).size - originalTo.length,
      messageId: '<observed@client.test>',
      durationMs: m.durationMs,
      code: 250,
      outcome: 'stored',
    });
  });

  it("observe mode, known alice + unknown stranger with observeMailbox alice → one copy in alice's Maildir", async () => {
    const t = await app({
      domains: [{ name: 'example.test', unknownRecipients: 'observe', recipients: ['alice'], observeMailbox: 'alice' }],
    });
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test', 'stranger@example.test'],
      raw: simpleMessage(),
    });
    const id = queuedId(r.response);
    const files = listDir(path.join(t.dataDir, 'mail', 'example.test', 'alice', 'new'));
    expect(files).toHaveLength(1);
    expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([
      path.join('example.test', 'alice', 'new', files[0] ?? ''),
    ]);
    const text = readFileSync(path.join(t.dataDir, 'mail', 'example.test', 'alice', 'new', files[0] ?? ''), 'latin1');
    // one copy, naming both addresses it stands for
    const originalTo = 'X-Original-To: alice@example.test\r\nX-Original-To: stranger@example.test\r\n';
    expect(text.startsWith(originalTo)).toBe(true);
    expect(text.slice(originalTo.length)).toMatch(receivedHeader(id, null));
    expect(listFilesRecursive(qdir(t))).toEqual([]);
    const m = await t.events.waitFor('message', (e) => e.qid === id);
    expect(m).toMatchObject({
      delivered: ['alice@example.test'],
      observed: ['stranger@example.test'],
      quarantined: [],
    });
  });
});
