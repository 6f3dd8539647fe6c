// STARTTLS: offered only with key and cert, TLS 1.2 minimum, certificate re-read on reload.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import path from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { queuedId } from '../helpers/files.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

let t: TestApp | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

async function makeCert(cn: string): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 2 * 86_400_000),
  });
  return { key: pems.private, cert: pems.cert };
}

/** EHLO, STARTTLS, TLS handshake; returns the peer certificate's CN and the negotiated protocol. */
async function startTls(
  port: number,
  opts: tls.ConnectionOptions = {},
): Promise<{ cn: string; protocol: string | null; socket: tls.TLSSocket }> {
  const { client } = await RawSmtp.connect(port);
  expect((await client.cmd('EHLO client.test')).text).toContain('STARTTLS');
  expect((await client.cmd('STARTTLS')).line).toBe('220 2.0.0 Ready to start TLS');
  client.socket.removeAllListeners('data');
  const socket = tls.connect({
    socket: client.socket,
    rejectUnauthorized: false,
    servername: 'mx.test.invalid',
    ...opts,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const cn = String(socket.getPeerCertificate().subject?.CN ?? '');
  return { cn, protocol: socket.getProtocol(), socket };
}

describe('STARTTLS', () => {
  it('is not offered without server.tls', async () => {
    t = await startApp();
    const { client } = await RawSmtp.connect(t.port);
    expect((await client.cmd('EHLO client.test')).text).not.toContain('STARTTLS');
    expect((await client.cmd('STARTTLS')).line).toBe('500 5.5.2 Error: command not recognized');
    client.close();
  });

  it('is offered with key and cert, negotiates TLS ≥ 1.2 and refuses TLS 1.1; Received says ESMTPS', async () => {
    const pem = await makeCert('first.test');
    t = await startApp(
      { server: { tls: { key: 'tls.key', cert: 'tls.crt' } } },
      { files: { 'tls.key': pem.key, 'tls.crt': pem.cert } },
    );
    const { cn, protocol, socket } = await startTls(t.port);
    expect(cn).toBe('first.test');
    // a client offering TLS 1.3 gets it
    expect(protocol).toBe('TLSv1.3');
    socket.destroy();
    await expect(startTls(t.port, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toMatchObject({
      code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    });
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      name: 'client.test',
      logger: false,
    });
    const info = await transport.sendMail({
      envelope: { from: 's@client.test', to: ['alice@example.test'] },
      raw: 'Subject: over tls\r\n\r\nhi\r\n',
    });
    transport.close();
    const qid = queuedId(String(info.response));
    const dir = path.join(t.dataDir, 'mail/example.test/alice/new');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(readFileSync(path.join(dir, files[0] ?? ''), 'latin1')).toMatch(
      new RegExp(
        `^Received: from client\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\r\n\tby mx\\.test\\.invalid \\(catchall-guard\\) with ESMTPS id ${qid}\r\n\tfor <alice@example\\.test>;\r\n\t[^\r\n]+\r\nSubject: over tls\r\n\r\nhi\r\n$`,
      ),
    );
  });

  it('re-reads the certificate on reload without dropping an open session', async () => {
    const first = await makeCert('first.test');
    t = await startApp(
      { server: { tls: { key: 'tls.key', cert: 'tls.crt' } } },
      { files: { 'tls.key': first.key, 'tls.crt': first.cert } },
    );
    const open = await RawSmtp.connect(t.port);
    expect((await open.client.cmd('EHLO client.test')).code).toBe(250);
    const second = await makeCert('second.test');
    writeFileSync(path.join(t.dir, 'tls.key'), second.key);
    writeFileSync(path.join(t.dir, 'tls.crt'), second.cert);
    const r = loadConfig({ configPath: t.configPath, env: { CATCHALL_GUARD_DATA_DIR: t.dataDir } });
    if (!r.ok) throw new Error('config');
    expect(t.app.reload(r.config)).toEqual({ ok: true });
    const { cn, socket } = await startTls(t.port);
    expect(cn).toBe('second.test');
    socket.destroy();
    // the session opened before the reload still works
    expect((await open.client.cmd('MAIL FROM:<s@client.test>')).line).toBe('250 2.1.0 Accepted');
    open.client.close();
  });

  it('a missing key file is a configuration error naming server.tls.key', async () => {
    const pem = await makeCert('x.test');
    await expect(
      startApp({ server: { tls: { key: 'missing.key', cert: 'tls.crt' } } }, { files: { 'tls.crt': pem.cert } }),
    ).rejects.toThrow(/server\.tls\.key/);
  });
});

// Issue #9 item 12: TLS 1.2 offered CBC and static-RSA suites, and a client could renegotiate.
describe('STARTTLS cipher suites and renegotiation', () => {
  async function tlsApp(): Promise<TestApp> {
    const pem = await makeCert('mx.test.invalid');
    return startApp(
      { server: { tls: { key: 'tls.key', cert: 'tls.crt' } } },
      { files: { 'tls.key': pem.key, 'tls.crt': pem.cert } },
    );
  }

  it('TLS 1.2 refuses CBC and static-RSA suites and negotiates ECDHE with an AEAD cipher', async () => {
    t = await tlsApp();
    // static RSA key exchange (no forward secrecy), with CBC and with GCM; ECDHE but CBC
    for (const ciphers of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA384']) {
      await expect(startTls(t.port, { maxVersion: 'TLSv1.2', ciphers }), ciphers).rejects.toMatchObject({
        code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
      });
    }
    const { socket, protocol } = await startTls(t.port, { maxVersion: 'TLSv1.2' });
    expect(protocol).toBe('TLSv1.2');
    // the client's first choice among Node's defaults that the server allows, with the RSA certificate
    expect(socket.getCipher().name).toBe('ECDHE-RSA-AES128-GCM-SHA256');
    socket.destroy();
  });

  it('a client-initiated renegotiation is refused', async () => {
    t = await tlsApp();
    const { socket } = await startTls(t.port, { maxVersion: 'TLSv1.2' });
    socket.on('error', () => undefined); // the refusal may also surface here
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('no answer'), 5_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve('closed');
      });
      const started = socket.renegotiate({ rejectUnauthorized: false }, (err) => {
        clearTimeout(timer);
        resolve(err ? 'refused' : 'renegotiated');
      });
      if (!started) resolve('refused');
    });
    expect(outcome).toBe('closed');
    socket.destroy();
  });

  it('the cipher policy survives a certificate reload', async () => {
    t = await tlsApp();
    const second = await makeCert('second.test');
    writeFileSync(path.join(t.dir, 'tls.key'), second.key);
    writeFileSync(path.join(t.dir, 'tls.crt'), second.cert);
    const r = loadConfig({ configPath: t.configPath, env: { CATCHALL_GUARD_DATA_DIR: t.dataDir } });
    if (!r.ok) throw new Error('config');
    expect(t.app.reload(r.config)).toEqual({ ok: true });
    const { cn, socket } = await startTls(t.port, { maxVersion: 'TLSv1.2' });
    expect(cn).toBe('second.test');
    socket.destroy();
    await expect(startTls(t.port, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' })).rejects.toMatchObject({
      code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
    });
  });
});
