// Storage and upstream faults: 451 4.x.x, nothing half-written, the server keeps serving and recovers.
import { rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpoolWriter } from '../../src/message/spool.js';
import { fsSpoolWriter } from '../../src/message/spool.js';
import { nodeDurableFs, type DurableFs } from '../../src/storage/durable-fs.js';
import { sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';
import { startSink, type UpstreamSink } from '../helpers/upstream-sink.js';
import { listFilesRecursive } from '../helpers/files.js';

let t: TestApp | null = null;
let sink: UpstreamSink | null = null;
afterEach(async () => {
  await t?.stop();
  await sink?.close();
  t = null;
  sink = null;
});

type FsOp = keyof DurableFs;
function faultyFs(): { fs: DurableFs; failAt: Set<FsOp> } {
  const failAt = new Set<FsOp>();
  const guard = (op: FsOp): void => {
    if (failAt.has(op)) throw Object.assign(new Error(`injected ${op} failure`), { code: 'EIO' });
  };
  const fs: DurableFs = {
    mkdirp: async (dir) => (guard('mkdirp'), nodeDurableFs.mkdirp(dir)),
    placeCopy: async (src, dest) => (guard('placeCopy'), nodeDurableFs.placeCopy(src, dest)),
    writeNew: async (dest, data) => (guard('writeNew'), nodeDurableFs.writeNew(dest, data)),
    writeMarker: (dest, data) => nodeDurableFs.writeMarker(dest, data),
    rename: async (from, to) => (guard('rename'), nodeDurableFs.rename(from, to)),
    fsyncDir: async (dir) => (guard('fsyncDir'), nodeDurableFs.fsyncDir(dir)),
    unlink: (file) => nodeDurableFs.unlink(file),
    readdir: (dir) => nodeDurableFs.readdir(dir),
    lstat: (file) => nodeDurableFs.lstat(file),
    openReadNoFollow: (file) => nodeDurableFs.openReadNoFollow(file),
  };
  return { fs, failAt };
}

type SpoolOp = 'open' | 'write' | 'sync';
function faultySpool(): { writer: SpoolWriter; failAt: Set<SpoolOp> } {
  const failAt = new Set<SpoolOp>();
  const fail = (op: SpoolOp): void => {
    if (failAt.has(op)) throw Object.assign(new Error(`injected spool ${op} failure`), { code: 'ENOSPC' });
  };
  return {
    failAt,
    writer: {
      async openForWrite(file) {
        fail('open');
        const inner = await fsSpoolWriter.openForWrite(file);
        return {
          write: async (buf: Buffer) => (fail('write'), inner.write(buf)),
          sync: async () => (fail('sync'), inner.sync()),
          size: () => inner.size(),
          close: () => inner.close(),
        };
      },
    },
  };
}

const send = (port: number, to: string[]) =>
  sendMessage(port, { from: 's@client.test', to, raw: simpleMessage({ body: 'fault test body' }) });

describe('storage faults → 451, nothing kept, recovery', () => {
  // a small message is written from memory (writeNew); with the memory limit at 0 it is linked from the spool (placeCopy)
  for (const [op, spoolMemoryLimit] of [
    ['writeNew', undefined],
    ['placeCopy', 0],
    ['rename', undefined],
    ['fsyncDir', undefined],
    ['mkdirp', undefined],
  ] as const) {
    it(`Maildir ${op} failure`, async () => {
      const { fs, failAt } = faultyFs();
      t = await startApp({}, { deps: { fs, ...(spoolMemoryLimit === 0 ? { spoolMemoryLimit } : {}) } });
      failAt.add(op);
      const r = await send(t.port, ['alice@example.test']);
      expect(r.code).toBe(451);
      expect(r.response).toMatch(/^451 4\.3\.0 /);
      expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
      expect(listFilesRecursive(path.join(t.dataDir, 'spool'))).toEqual([]);
      failAt.clear();
      expect((await send(t.port, ['alice@example.test'])).code).toBe(250);
      expect(listFilesRecursive(path.join(t.dataDir, 'mail/example.test/alice/new'))).toHaveLength(1);
    });
  }

  for (const [op, spoolMemoryLimit] of [
    ['writeNew', undefined],
    ['rename', undefined],
    ['placeCopy', 0],
  ] as const) {
    it(`quarantine ${op} failure in a mixed transaction: 451, neither the Maildir nor the quarantine keeps it`, async () => {
      const { fs, failAt } = faultyFs();
      t = await startApp(
        { domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }] },
        { deps: { fs, ...(spoolMemoryLimit === 0 ? { spoolMemoryLimit } : {}) } },
      );
      failAt.add(op);
      const r = await send(t.port, ['alice@example.test', 'stranger@example.test']);
      expect(r.response).toMatch(/^451 4\.3\.0 /);
      expect(listFilesRecursive(path.join(t.dataDir, 'quarantine'))).toEqual([]);
      expect(listFilesRecursive(path.join(t.dataDir, 'mail')).filter((f) => f.includes('/new/'))).toEqual([]);
      expect(listFilesRecursive(path.join(t.dataDir, 'spool'))).toEqual([]);
      failAt.clear();
      expect((await send(t.port, ['alice@example.test', 'stranger@example.test'])).code).toBe(250);
      expect(listFilesRecursive(path.join(t.dataDir, 'quarantine')).sort()).toHaveLength(2);
    });
  }

  for (const op of ['open', 'write', 'sync'] as const) {
    it(`spool ${op} failure`, async () => {
      const { writer, failAt } = faultySpool();
      t = await startApp({}, { deps: { spoolWriter: writer, spoolMemoryLimit: 0 } });
      failAt.add(op);
      const r = await send(t.port, ['alice@example.test']);
      expect(r.response).toMatch(/^451 4\.3\.0 /);
      expect(listFilesRecursive(path.join(t.dataDir, 'spool'))).toEqual([]);
      expect(listFilesRecursive(path.join(t.dataDir, 'mail'))).toEqual([]);
      await t.events.waitFor('message', (e) => e.outcome === 'temporary');
      failAt.clear();
      expect((await send(t.port, ['alice@example.test'])).code).toBe(250);
    });
  }

  it('quarantine directory unusable (a file in its place) → 451, then recovers when fixed', async () => {
    t = await startApp(
      { domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }] },
      { deps: { storageCheck: { intervalMs: 100 } } },
    );
    const events = t.events;
    const qdir = path.join(t.dataDir, 'quarantine');
    // the start check made the directory: a file takes its place while the server runs
    rmSync(qdir, { recursive: true, force: true });
    writeFileSync(qdir, 'not a directory');
    expect((await send(t.port, ['stranger@example.test'])).response).toMatch(/^451 4\.3\.0 /);
    // the storage check names it, and refuses MAIL FROM (451 4.3.0) until it is fixed
    await events.waitFor('storage', (e) => !e.ok && e.path === qdir && e.problem === 'not-a-directory');
    rmSync(qdir);
    await events.waitFor('storage', (e) => e.ok);
    expect((await send(t.port, ['stranger@example.test'])).code).toBe(250);
    expect(listFilesRecursive(path.join(t.dataDir, 'quarantine'))).toHaveLength(2);
  });
});

describe('upstream faults', () => {
  it('an upstream refusing our AUTH (535) → 451 4.4.1, not a bounce: a wrong password is ours to fix', async () => {
    const { SMTPServer } = await import('smtp-server');
    const authSink = new SMTPServer({
      authMethods: ['PLAIN', 'LOGIN'],
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      disableReverseLookup: true,
      logger: false,
      onAuth(_auth, _session, cb) {
        cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
      },
    });
    authSink.on('error', () => undefined);
    await new Promise<void>((resolve) => authSink.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    const port = (authSink.server.address() as AddressInfo).port;
    try {
      t = await startApp({
        delivery: {
          type: 'smtp',
          smtp: { host: '127.0.0.1', port, auth: { user: 'relay', pass: 'wrong' }, timeout: '5s' },
        },
      });
      const r = await send(t.port, ['alice@example.test']);
      expect(r.response).toMatch(/^451 4\.4\.1 /);
      const e = await t.events.waitFor('message', (m) => m.outcome === 'temporary');
      expect(e.detail).toMatch(/535|auth/i);
      // the password never reaches the log
      expect(t.events.lines.join('\n')).not.toContain('wrong');
    } finally {
      await new Promise<void>((resolve) => authSink.close(() => resolve()));
    }
  });

  it('an upstream that hangs after DATA → bounded timeout, then 451 4.4.1', async () => {
    sink = await startSink('hang');
    t = await startApp({ delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: sink.port, timeout: '1500ms' } } });
    const started = Date.now();
    const r = await send(t.port, ['alice@example.test']);
    expect(r.response).toMatch(/^451 4\.4\.1 /);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(listFilesRecursive(path.join(t.dataDir, 'spool'))).toEqual([]);
  });
});

describe('a storage failure in the middle of DATA', () => {
  it('the rest of the message is read and the 451 comes after the final dot, not before', async () => {
    const { writer, failAt } = faultySpool();
    t = await startApp({}, { deps: { spoolWriter: writer, spoolMemoryLimit: 0 } });
    failAt.add('write');
    const { RawSmtp } = await import('../helpers/smtp-client.js');
    const { client } = await RawSmtp.connect(t.port);
    await client.begin();
    expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    let early = false;
    client.socket.once('data', () => (early = true));
    client.write(`Subject: big\r\n\r\n${'x'.repeat(70).concat('\r\n').repeat(3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(early).toBe(false);
    client.write('.\r\n');
    expect((await client.read()).line).toMatch(/^451 4\.3\.0 /);
    // the session goes on normally
    failAt.clear();
    expect((await client.cmd('MAIL FROM:<s@client.test>')).code).toBe(250);
    client.close();
  });
});
