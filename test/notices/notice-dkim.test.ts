// SPEC §6 `notices.dkim`: a notice that reaches a real SMTP sink carries a DKIM signature for its From:
// domain that two independent verifiers accept — mailauth and Debian's python3-dkim (dkimpy) — first with
// the selector's TXT record answered through each one's DNS seam, then end to end: the record `dkim keygen`
// prints, served by a real DNS server (dnsmasq), found by each verifier's own DNS code.
import { spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { authenticate, type DNSResolver } from 'mailauth';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { runDkim } from '../../src/cli/dkim.js';
import { createConfiguredResolver } from '../../src/sender-auth/dns.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { queuedId } from '../helpers/files.js';
import { sendVerbatim } from '../helpers/smtp-client.js';
import { startSink, type SinkMessage, type UpstreamSink } from '../helpers/upstream-sink.js';
import {
  markedMessage,
  noticeSite,
  runApp,
  smarthost,
  uniqueMarker,
  type NoticeSite,
  type RunningApp,
} from './notice-app.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const SELECTOR = 'cg2026';
/**
 * Debian's interpreter: python3-dkim installs there, whatever python3 comes first on PATH. Missing, the
 * tests fail (.ci/run installs it): a second verifier that silently does not run proves nothing.
 */
const PYTHON = '/usr/bin/python3';

interface TestKey {
  readonly file: string;
  readonly pem: string;
  /** The TXT record's value, as published: `v=DKIM1; k=…; p=…`. */
  readonly txt: string;
}

function keyDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-dkim-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A key file and its record, derived here from the key alone (not by the code under test). */
function rsaKey(dir = keyDir()): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const file = path.join(dir, 'notice.key');
  writeFileSync(file, pem, { mode: 0o600 });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { file, pem, txt: `v=DKIM1; k=rsa; p=${spki}` };
}

function ed25519Key(dir = keyDir()): TestKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const file = path.join(dir, 'notice-ed.key');
  writeFileSync(file, pem, { mode: 0o600 });
  // RFC 8463 §4.2: p= is the bare 32-byte public key, the tail of its SubjectPublicKeyInfo
  const raw = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  return { file, pem, txt: `v=DKIM1; k=ed25519; p=${raw}` };
}

/** A zone with one TXT record, split into 255-character strings as DNS carries it; everything else NXDOMAIN. */
function txtResolver(
  name: string,
  txt: string,
): {
  resolve: (domain: string, rrtype: string) => Promise<string[][]>;
  queries: string[];
} {
  const queries: string[] = [];
  const chunks: string[] = [];
  for (let i = 0; i < txt.length; i += 255) chunks.push(txt.slice(i, i + 255));
  return {
    queries,
    resolve: async (domain, rrtype) => {
      queries.push(`${domain} ${rrtype}`);
      if (domain === name && rrtype === 'TXT') return [chunks];
      throw Object.assign(new Error(`${domain} ${rrtype}: no such record (test zone)`), { code: 'ENOTFOUND' });
    },
  };
}

async function setup(
  key: TestKey,
  extra: Record<string, unknown> = {},
  deps: Parameters<typeof runApp>[1] = {},
): Promise<{ sink: UpstreamSink; site: NoticeSite; t: RunningApp }> {
  const sink = await startSink('accept');
  cleanup.push(() => sink.close());
  const site = noticeSite(smarthost(sink.port, { dkim: { selector: SELECTOR, privateKey: key.file }, ...extra }));
  cleanup.push(() => site.remove());
  const t = await runApp(site, deps);
  cleanup.push(() => t.stop());
  return { sink, site, t };
}

async function quarantine(t: RunningApp, raw = markedMessage(uniqueMarker())): Promise<string> {
  const r = await sendVerbatim(t.port, { from: 'jane@client.test', to: ['typo@example.test'], raw });
  expect(r.code).toBe(250);
  return queuedId(r.response);
}

/** The DKIM-Signature field's tags, unfolded, whitespace removed (RFC 6376 §3.2 allows FWS anywhere). */
async function signatureTags(m: SinkMessage): Promise<Record<string, string>> {
  const mail = await simpleParser(m.raw);
  const line = mail.headerLines.find((l) => l.key === 'dkim-signature')?.line ?? '';
  const value = line.replace(/^DKIM-Signature:/i, '').replace(/\s+/g, '');
  return Object.fromEntries(
    value
      .split(';')
      .filter(Boolean)
      .map((tag) => [tag.slice(0, tag.indexOf('=')), tag.slice(tag.indexOf('=') + 1)]),
  );
}

async function mailauthDkim(raw: Buffer, zone: ReturnType<typeof txtResolver>) {
  const res = await authenticate(raw, {
    ip: '127.0.0.1',
    helo: 'mx.test.invalid',
    sender: '',
    mta: 'verifier.test',
    resolver: zone.resolve,
    disableArc: true,
    disableBimi: true,
  });
  return res.dkim.results;
}

/** Runs an inline Python script under Debian's interpreter with `input` on stdin: exit code and output. */
function python(
  script: string,
  input: Buffer,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', script], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(new Error(`${PYTHON}: ${e.message} (apt-get install -y python3-dkim)`)));
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString();
      if (/No module named '?dkim/.test(stderr))
        return reject(new Error('python3-dkim is not installed: apt-get install -y python3-dkim (.ci/run does)'));
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr });
    });
    child.stdin.end(input);
  });
}

/** dkimpy verifies the message on stdin; its dnsfunc answers only the one record, and says what was asked. */
async function pythonVerify(raw: Buffer, name: string, txt: string): Promise<{ ok: boolean; asked: string[] }> {
  const script = [
    'import json, os, sys, dkim',
    'asked = []',
    'def dnsfunc(name, timeout=5):',
    '    asked.append(name.decode())',
    "    return os.environb[b'DKIM_TXT'] if name == os.environb[b'DKIM_NAME'] else None",
    'ok = dkim.verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)',
    "print(json.dumps({'ok': bool(ok), 'asked': asked}))",
  ].join('\n');
  const r = await python(script, raw, { DKIM_NAME: name, DKIM_TXT: txt });
  if (r.code !== 0) throw new Error(`dkimpy exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ok: boolean; asked: string[] };
}

/**
 * Debian's `dkimverify` itself (its main(), message on stdin), with dnspython's default resolver aimed at
 * the test's DNS server instead of /etc/resolv.conf: dkimpy's own TXT look-up does the rest.
 */
function dkimverify(raw: Buffer, dnsPort: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = [
    'import os, sys, dns.resolver',
    'r = dns.resolver.Resolver(configure=False)',
    "r.nameservers = ['127.0.0.1']",
    "r.port = int(os.environ['DNS_PORT'])",
    'dns.resolver.default_resolver = r',
    "sys.argv = ['dkimverify']",
    'from dkim.dkimverify import main',
    'main()',
  ].join('\n');
  return python(script, raw, { DNS_PORT: String(dnsPort) });
}

/** The header fields, in order, that SPEC §6 and the brief require a notice's signature to cover. */
const REQUIRED = [
  'from',
  'to',
  'subject',
  'date',
  'message-id',
  'in-reply-to',
  'references',
  'auto-submitted',
  'mime-version',
  'content-type',
];

describe('notices.dkim: a signed notice, verified', () => {
  it('dsn: d= the From: domain, s= the selector, relaxed/relaxed, the required fields signed; mailauth says pass', async () => {
    const key = rsaKey();
    const { sink, t } = await setup(key);
    const before = Math.floor(Date.now() / 1000);
    await quarantine(t, markedMessage(uniqueMarker(), { messageId: '<order-4711@client.test>' }));
    const [m] = await sink.waitForMessages(1);
    if (!m) throw new Error('no notice');
    const after = Math.ceil(Date.now() / 1000);

    const tags = await signatureTags(m);
    // every tag the signature carries: no l= (the whole body is signed), no i=, no x=
    expect(Object.keys(tags).sort()).toEqual(['a', 'b', 'bh', 'c', 'd', 'h', 'q', 's', 't', 'v']);
    expect(tags).toMatchObject({
      v: '1',
      a: 'rsa-sha256',
      c: 'relaxed/relaxed',
      d: 'example.test',
      s: SELECTOR,
      q: 'dns/txt',
    });
    expect(Number(tags['t'])).toBeGreaterThanOrEqual(before);
    expect(Number(tags['t'])).toBeLessThanOrEqual(after);
    const signed = (tags['h'] ?? '').toLowerCase().split(':');
    // mailauth lists the fields bottom-up; what matters is that each one is there, once
    expect([...signed].sort()).toEqual([...REQUIRED, 'x-auto-response-suppress'].sort());
    const mail = await simpleParser(m.raw);
    expect(mail.from?.value).toEqual([{ name: 'Mail Delivery System', address: 'postmaster@example.test' }]);
    // the signature is the first field: nothing the signer did not see sits above it
    expect(m.raw.subarray(0, 16).toString('latin1')).toBe('DKIM-Signature: ');

    const zone = txtResolver(`${SELECTOR}._domainkey.example.test`, key.txt);
    const results = await mailauthDkim(m.raw, zone);
    expect(results.map((r) => [r.signingDomain, r.selector, r.status.result, r.status.aligned])).toEqual([
      ['example.test', SELECTOR, 'pass', 'example.test'],
    ]);
    expect(zone.queries).toContain(`${SELECTOR}._domainkey.example.test TXT`);
  });

  it('plain format, notices.from a full address at another domain: d= that domain; mailauth says pass', async () => {
    const key = rsaKey();
    const { sink, t } = await setup(key, { format: 'plain', from: 'notices@Mailer.Example.org' });
    await quarantine(t);
    const [m] = await sink.waitForMessages(1);
    if (!m) throw new Error('no notice');
    const tags = await signatureTags(m);
    expect(tags).toMatchObject({ d: 'mailer.example.org', s: SELECTOR, c: 'relaxed/relaxed' });
    // a plain notice is a single text part: its transfer encoding is a top-level field, and signed too
    expect((tags['h'] ?? '').toLowerCase().split(':')).toContain('content-transfer-encoding');
    const results = await mailauthDkim(m.raw, txtResolver(`${SELECTOR}._domainkey.mailer.example.org`, key.txt));
    expect(results.map((r) => [r.signingDomain, r.status.result])).toEqual([['mailer.example.org', 'pass']]);
  });

  it('an Ed25519 key signs ed25519-sha256 (RFC 8463); mailauth says pass', async () => {
    const key = ed25519Key();
    const { sink, t } = await setup(key);
    await quarantine(t);
    const [m] = await sink.waitForMessages(1);
    if (!m) throw new Error('no notice');
    expect(await signatureTags(m)).toMatchObject({ a: 'ed25519-sha256', d: 'example.test', s: SELECTOR });
    const results = await mailauthDkim(m.raw, txtResolver(`${SELECTOR}._domainkey.example.test`, key.txt));
    expect(results.map((r) => [r.signingDomain, r.status.result])).toEqual([['example.test', 'pass']]);
  });

  it('a notice changed in transit fails verification (the check is real)', async () => {
    const key = rsaKey();
    const { sink, t } = await setup(key);
    await quarantine(t);
    const [m] = await sink.waitForMessages(1);
    if (!m) throw new Error('no notice');
    const zone = txtResolver(`${SELECTOR}._domainkey.example.test`, key.txt);
    const tampered = Buffer.from(m.raw.toString('latin1').replace(/^Subject: /m, 'Subject: Re: '), 'latin1');
    expect((await mailauthDkim(tampered, zone)).map((r) => r.status.result)).toEqual(['fail']);
    // and a record with another key does not verify the untouched notice either
    const other = rsaKey();
    expect(
      (await mailauthDkim(m.raw, txtResolver(`${SELECTOR}._domainkey.example.test`, other.txt))).map(
        (r) => r.status.result,
      ),
    ).toEqual(['fail']);
  });

  it('a second verifier, python3-dkim (dkimpy), accepts the dsn notice and rejects a tampered copy', async () => {
    const key = rsaKey();
    const { sink, t } = await setup(key);
    await quarantine(t, markedMessage(uniqueMarker(), { messageId: '<order-4712@client.test>' }));
    const [m] = await sink.waitForMessages(1);
    if (!m) throw new Error('no notice');
    const name = `${SELECTOR}._domainkey.example.test.`;
    expect(await pythonVerify(m.raw, name, key.txt)).toEqual({ ok: true, asked: [name] });
    const tampered = Buffer.from(m.raw.toString('latin1').replace('order-4712', 'order-4713'), 'latin1');
    expect(await pythonVerify(tampered, name, key.txt)).toEqual({ ok: false, asked: [name] });
  });

  it('a key that became unusable at run time: the notice is deferred (dkim-key-unusable), never sent unsigned; fixed, it goes out signed', async () => {
    const key = rsaKey();
    const { sink, site, t } = await setup(key, {}, { noticeRetryBaseMs: 300 });
    writeFileSync(key.file, 'this is not a key\n');
    const before = Date.now();
    const qid = await quarantine(t);

    const deferred = await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'deferred');
    const deferredAt = Date.now();
    expect(deferred).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'deferred',
      reason: 'dkim-key-unusable',
      attempts: 1,
      detail: `${key.file}: not a PEM private key`,
    });
    const pending = site.entry(qid).notice;
    expect(pending).toEqual({
      status: 'pending',
      reason: 'dkim-key-unusable',
      attempts: 1,
      to: 'jane@client.test',
      nextAttemptAt: pending.nextAttemptAt,
      lastError: `${key.file}: not a PEM private key`,
    });
    // the first retry one base delay (300 ms) after the failed attempt, which this test saw happen
    const retryAt = Date.parse(pending.nextAttemptAt ?? '');
    expect(retryAt - 300).toBeGreaterThanOrEqual(before);
    expect(retryAt - 300).toBeLessThanOrEqual(deferredAt);
    expect(sink.messages).toEqual([]);

    writeFileSync(key.file, key.pem);
    const [m] = await sink.waitForMessages(1);
    if (!m) throw new Error('no notice');
    const results = await mailauthDkim(m.raw, txtResolver(`${SELECTOR}._domainkey.example.test`, key.txt));
    expect(results.map((r) => [r.signingDomain, r.status.result])).toEqual([['example.test', 'pass']]);
    expect(await t.events.waitFor('notice', (e) => e.qid === qid && e.status === 'sent')).toEqual({
      event: 'notice',
      qid,
      to: 'jane@client.test',
      status: 'sent',
      attempts: 2,
    });
  });

  it('without notices.dkim the notice carries no signature', async () => {
    const sink = await startSink('accept');
    cleanup.push(() => sink.close());
    const site = noticeSite(smarthost(sink.port));
    cleanup.push(() => site.remove());
    const t = await runApp(site);
    cleanup.push(() => t.stop());
    await quarantine(t);
    const [m] = await sink.waitForMessages(1);
    expect(m?.raw.toString('latin1')).not.toMatch(/^DKIM-Signature:/im);
  });
});

describe('notices.dkim end to end: the record keygen prints, on a real DNS server', () => {
  it('keygen → dnsmasq serves its record → the signed notice verifies with mailauth (c-ares) and dkimverify (dnspython)', async () => {
    const dir = keyDir();
    const keyFile = path.join(dir, 'notices.key');
    const printed: string[] = [];
    const code = await runDkim(
      ['keygen'],
      { domain: 'example.test', selector: SELECTOR, out: keyFile, configFile: path.join(dir, 'config.yaml') },
      { out: (text) => printed.push(text), err: (text) => printed.push(text) },
    );
    expect(code).toBe(0);
    const record = printed.join('').split('\n')[2] ?? '';
    const owner = `${SELECTOR}._domainkey.example.test.`;
    expect(record.startsWith(`${owner} IN TXT "`)).toBe(true);
    // the character-strings exactly as printed: what an operator pastes into the zone is what is served
    const strings = [...record.slice(owner.length).matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? '');
    const dns = await startDnsmasq({ txt: { [owner]: [strings] } });
    cleanup.push(() => dns.stop());

    const { sink, t } = await setup({ file: keyFile, pem: readFileSync(keyFile, 'utf8'), txt: strings.join('') });
    await quarantine(t, markedMessage(uniqueMarker(), { messageId: '<order-4714@client.test>' }));
    const [m] = await sink.waitForMessages(1);
    if (!m) throw new Error('no notice');

    const res = await authenticate(m.raw, {
      ip: '127.0.0.1',
      helo: 'mx.test.invalid',
      sender: '',
      mta: 'verifier.test',
      resolver: createConfiguredResolver({ servers: [dns.server], timeout: 5000 }) as DNSResolver,
      disableArc: true,
      disableBimi: true,
    });
    expect(res.dkim.results.map((r) => [r.signingDomain, r.selector, r.status.result])).toEqual([
      ['example.test', SELECTOR, 'pass'],
    ]);

    expect(await dkimverify(m.raw, dns.port)).toEqual({ code: 0, stdout: 'signature ok\n', stderr: '' });
    const tampered = Buffer.from(m.raw.toString('latin1').replace('order-4714', 'order-4715'), 'latin1');
    expect(await dkimverify(tampered, dns.port)).toEqual({
      code: 1,
      stdout: 'signature verification failed\n',
      stderr: '',
    });
    // both verifiers really asked this server for the record
    expect(dns.log().match(/query\[TXT\] cg2026\._domainkey\.example\.test from 127\.0\.0\.1/g)?.length).toBe(3);
  });
});
