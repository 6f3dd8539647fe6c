// Issue #15 item 5: TLS from the guard to the upstream mailbox server (delivery.smtp.requireTLS and
// delivery.smtp.tls: verify, ca, servername), against a real smtp-server that offers STARTTLS with
// a self-signed certificate, or does not offer it at all.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queuedId } from '../helpers/files.js';
import { sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig, startApp, writeConfig, type RawConfig, type TestApp } from '../helpers/start-app.js';
import { startSink, type UpstreamSink } from '../helpers/upstream-sink.js';
import { loadConfig } from '../../src/config/load.js';

let running: Array<{ stop(): Promise<void> } | { close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.reverse()) await ('stop' in r ? r.stop() : r.close());
  running = [];
});

/** The upstream's certificate: self-signed for upstream.test (also its subjectAltName). */
let pem: { key: string; cert: string };
beforeAll(async () => {
  const p = await generate([{ name: 'commonName', value: 'upstream.test' }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 2 * 86_400_000),
  });
  pem = { key: p.private, cert: p.cert };
});

async function sink(tls: boolean): Promise<UpstreamSink> {
  const s = await startSink('accept', tls ? { tls: pem } : {});
  running.push(s);
  return s;
}

/** The guard relaying to `port` with these delivery.smtp settings; `upstream-ca.pem` beside the config. */
async function guard(port: number, smtp: RawConfig): Promise<TestApp> {
  const t = await startApp(
    { delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port, timeout: '5s', ...smtp } } },
    { files: { 'upstream-ca.pem': pem.cert } },
  );
  running.push(t);
  return t;
}

async function send(t: TestApp): Promise<{ code: number; response: string }> {
  return sendMessage(t.port, { from: 'sender@client.test', to: ['alice@example.test'], raw: simpleMessage() });
}

const TLS_FAIL = '451 4.4.1 mailbox server temporarily unavailable, try again later [upstream-tls]';

describe('TLS to the upstream', () => {
  it('default (opportunistic): STARTTLS when offered, a self-signed certificate accepted', async () => {
    const s = await sink(true);
    const t = await guard(s.port, {});
    expect((await send(t)).code).toBe(250);
    const [m] = await s.waitForMessages(1);
    expect(m?.secure).toBe(true);
  });

  it('default (opportunistic): plain text to an upstream without STARTTLS', async () => {
    const s = await sink(false);
    const t = await guard(s.port, {});
    expect((await send(t)).code).toBe(250);
    const [m] = await s.waitForMessages(1);
    expect(m?.secure).toBe(false);
  });

  it('requireTLS to an upstream without STARTTLS: 451 [upstream-tls], nothing handed on, the reason logged', async () => {
    const s = await sink(false);
    const t = await guard(s.port, { requireTLS: true });
    const r = await send(t);
    expect(r.response).toBe(TLS_FAIL);
    expect(s.messages).toEqual([]);
    const e = await t.events.waitFor('message');
    expect(e).toMatchObject({ outcome: 'temporary', code: 451, reason: 'upstream-tls' });
  });

  it('requireTLS verifies the certificate: a self-signed one without `ca` is refused with 451 [upstream-tls]', async () => {
    const s = await sink(true);
    const t = await guard(s.port, { requireTLS: true, tls: { servername: 'upstream.test' } });
    expect((await send(t)).response).toBe(TLS_FAIL);
    expect(s.messages).toEqual([]);
    const e = await t.events.waitFor('message');
    expect(e.detail).toMatch(/self[- ]signed/i);
  });

  it('requireTLS with `ca` and `servername`: verified, delivered under TLS', async () => {
    const s = await sink(true);
    const t = await guard(s.port, { requireTLS: true, tls: { ca: 'upstream-ca.pem', servername: 'upstream.test' } });
    const r = await send(t);
    expect(r.code).toBe(250);
    const [m] = await s.waitForMessages(1);
    expect(m?.secure).toBe(true);
    expect(m?.raw.toString('latin1')).toContain(`id ${queuedId(r.response)}`);
  });

  it('the right CA but a certificate for another name: 451 [upstream-tls]', async () => {
    const s = await sink(true);
    const t = await guard(s.port, { requireTLS: true, tls: { ca: 'upstream-ca.pem', servername: 'mail.other.test' } });
    expect((await send(t)).response).toBe(TLS_FAIL);
    const e = await t.events.waitFor('message');
    expect(e.detail).toMatch(/mail\.other\.test/);
    expect(s.messages).toEqual([]);
  });

  it('a `ca` alone turns verification on for opportunistic STARTTLS', async () => {
    const s = await sink(true);
    // 127.0.0.1 is not a name the certificate carries
    const t = await guard(s.port, { tls: { ca: 'upstream-ca.pem' } });
    expect((await send(t)).response).toBe(TLS_FAIL);
    expect(s.messages).toEqual([]);
  });

  it('requireTLS with verify: false: encrypted, certificate not checked', async () => {
    const s = await sink(true);
    const t = await guard(s.port, { requireTLS: true, tls: { verify: false } });
    expect((await send(t)).code).toBe(250);
    const [m] = await s.waitForMessages(1);
    expect(m?.secure).toBe(true);
  });
});

describe('delivery.smtp.tls in the configuration', () => {
  const issuesOf = (smtpTls: RawConfig, files: Record<string, string> = {}): unknown => {
    const { dir, configPath, dataDir } = writeConfig(
      baseConfig({ delivery: { type: 'smtp', smtp: { host: '127.0.0.1', tls: smtpTls } } }),
      files,
    );
    const r = loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
    rmSync(dir, { recursive: true, force: true });
    return r.ok ? [] : r.issues;
  };

  it('a missing CA file, a file without a certificate, an unknown key and a bad servername are errors naming the key', () => {
    expect(issuesOf({ ca: 'missing.pem' })).toEqual([
      { path: 'delivery.smtp.tls.ca', message: expect.stringMatching(/^cannot read .*missing\.pem: /) as unknown },
    ]);
    expect(issuesOf({ ca: 'key.pem' }, { 'key.pem': 'not a certificate\n' })).toEqual([
      { path: 'delivery.smtp.tls.ca', message: expect.stringMatching(/key\.pem holds no PEM certificate$/) as unknown },
    ]);
    expect(issuesOf({ rejectUnauthorized: false })).toEqual([
      { path: 'delivery.smtp.tls.rejectUnauthorized', message: 'unknown key' },
    ]);
    expect(issuesOf({ servername: 'bad name' })).toEqual([
      { path: 'delivery.smtp.tls.servername', message: 'expected a host name such as mail.owner.example' },
    ]);
  });

  it('the CA path is resolved beside the configuration file', () => {
    const { dir, configPath, dataDir } = writeConfig(
      baseConfig({ delivery: { type: 'smtp', smtp: { host: '127.0.0.1', tls: { ca: 'upstream-ca.pem' } } } }),
      { 'upstream-ca.pem': pem.cert },
    );
    const r = loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
    expect(r.ok && r.config.delivery.smtp?.tls.ca).toBe(path.join(dir, 'upstream-ca.pem'));
    rmSync(dir, { recursive: true, force: true });
  });
});
