// SPEC §4: a large message is streamed to disk, never held in memory; a message over maxMessageSize
// gets 552 5.3.4, leaves nothing behind, and the session goes on.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp, sendMessage } from '../helpers/smtp-client.js';
import { baseConfig, startApp, writeConfig, type TestApp } from '../helpers/start-app.js';
import { buildDist, ROOT } from '../helpers/build-dist.js';
import { listFilesRecursive, queuedId } from '../helpers/files.js';
import { connectWithSid } from '../helpers/session-sid.js';

const MB = 1024 * 1024;
const LINE = 76;

/** A message of at least `bodyBytes` body bytes, produced in 64 KB chunks of 76-character lines. */
function generatedMessage(bodyBytes: number): { stream: Readable; total: () => number; lastLine: string } {
  const header =
    'From: Big Sender <sender@client.test>\r\nTo: alice@example.test\r\nSubject: a large message\r\n' +
    'Message-ID: <large-1@client.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=us-ascii\r\n\r\n';
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const lines = Math.ceil(bodyBytes / (LINE + 2));
  const lineAt = (i: number): string => {
    const start = i % alphabet.length;
    return (alphabet.slice(start) + alphabet + alphabet).slice(0, LINE);
  };
  let produced = 0;
  function* chunks(): Generator<Buffer> {
    const h = Buffer.from(header, 'latin1');
    produced += h.length;
    yield h;
    const perChunk = Math.floor((64 * 1024) / (LINE + 2));
    for (let i = 0; i < lines; i += perChunk) {
      let s = '';
      for (let j = i; j < Math.min(lines, i + perChunk); j++) s += `${lineAt(j)}\r\n`;
      const b = Buffer.from(s, 'latin1');
      produced += b.length;
      yield b;
    }
  }
  return { stream: Readable.from(chunks(), { objectMode: false }), total: () => produced, lastLine: lineAt(lines - 1) };
}

function filesIn(dir: string): string[] {
  return listFilesRecursive(dir).map((f) => path.join(dir, f));
}

interface MemoryUsage {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

interface LogLine {
  readonly event?: string;
  readonly kind?: string;
  readonly port?: number;
  readonly current?: MemoryUsage;
  readonly peak?: MemoryUsage;
  readonly baseline?: MemoryUsage;
  readonly samples?: number;
  readonly size?: number;
  readonly outcome?: string;
  readonly qid?: string;
}

/** The compiled app in a child process, reporting its memory on request. */
class ChildApp {
  readonly lines: LogLine[] = [];
  private waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as LogLine);
      } catch {
        return;
      }
      for (const w of [...this.waiters]) w();
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  waitFor(pred: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    const found = this.lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`child: no matching line within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      const check = (): void => {
        const l = this.lines.find(pred);
        if (!l) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(l);
      };
      this.waiters.add(check);
    });
  }

  async memory(
    kind: 'baseline' | 'report',
  ): Promise<Required<Pick<LogLine, 'current' | 'peak' | 'baseline' | 'samples'>>> {
    const before = this.lines.length;
    this.child.stdin.write(`${kind}\n`);
    const l = await this.waitFor((x) => x.event === 'memory' && x.kind === kind && this.lines.indexOf(x) >= before);
    if (!l.current || !l.peak || !l.baseline || l.samples === undefined)
      throw new Error(`bad memory line ${JSON.stringify(l)}`);
    return { current: l.current, peak: l.peak, baseline: l.baseline, samples: l.samples };
  }

  async stop(): Promise<number | null> {
    this.child.stdin.write('stop\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

const mb = (n: number): string => `${(n / MB).toFixed(1)} MB`;

describe('a 20 MB message through the compiled app in a child process', () => {
  let child: ChildApp;
  let port: number;
  let dir: string;
  let dataDir: string;

  beforeAll(async () => {
    await buildDist();
    const written = writeConfig(
      baseConfig({ server: { maxMessageSize: '32MB', listen: { host: '127.0.0.1', port: 0 } } }),
    );
    dir = written.dir;
    dataDir = written.dataDir;
    const proc = spawn(
      process.execPath,
      ['--expose-gc', path.join(ROOT, 'test/fixtures/memory-app.mjs'), written.configPath],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          CATCHALL_GUARD_DATA_DIR: dataDir,
          CATCHALL_GUARD_PORT: '0',
          CATCHALL_GUARD_HOST: '127.0.0.1',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    child = new ChildApp(proc);
    const listening = await child.waitFor((l) => l.event === 'listening');
    if (typeof listening.port !== 'number' || listening.port === 0)
      throw new Error(`bad listening line ${JSON.stringify(listening)}`);
    port = listening.port;
  }, 240_000);

  afterAll(async () => {
    if (child) expect(await child.stop()).toBe(0);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is stored whole with 250, and the server heap grows by less than 64 MB', async () => {
    const base = await child.memory('baseline');
    const msg = generatedMessage(20 * MB);
    const started = Date.now();
    const r = await sendMessage(port, { from: 'sender@client.test', to: ['alice@example.test'], raw: msg.stream });
    const seconds = (Date.now() - started) / 1000;
    expect(r.code, r.response).toBe(250);
    const qid = queuedId(r.response);

    const mem = await child.memory('report');
    const growth = {
      heapUsed: mem.peak.heapUsed - base.baseline.heapUsed,
      rss: mem.peak.rss - base.baseline.rss,
      external: mem.peak.external - base.baseline.external,
      arrayBuffers: mem.peak.arrayBuffers - base.baseline.arrayBuffers,
    };
    console.log(
      `20 MB message: ${mb(msg.total())} sent in ${seconds.toFixed(1)} s; server baseline heapUsed ${mb(base.baseline.heapUsed)}, ` +
        `peak heapUsed ${mb(mem.peak.heapUsed)} (growth ${mb(growth.heapUsed)}), peak rss ${mb(mem.peak.rss)} (growth ${mb(growth.rss)}), ` +
        `external growth ${mb(growth.external)}, arrayBuffers growth ${mb(growth.arrayBuffers)}, ${mem.samples} samples`,
    );
    expect(mem.samples).toBeGreaterThan(0);
    expect(growth.heapUsed).toBeLessThan(64 * MB);

    // after a full GC nothing of the message may be left: buffers seen above were garbage in waiting
    const after = (await child.memory('baseline')).baseline;
    const retained = after.heapUsed + after.arrayBuffers - (base.baseline.heapUsed + base.baseline.arrayBuffers);
    console.log(
      `after gc: heapUsed ${mb(after.heapUsed)}, arrayBuffers ${mb(after.arrayBuffers)}, retained heapUsed+arrayBuffers ${mb(retained)}`,
    );
    expect(retained).toBeLessThan(16 * MB);

    // on disk: the whole message plus our trace header, in alice's Maildir
    const stored = filesIn(path.join(dataDir, 'mail', 'example.test', 'alice', 'new'));
    expect(stored).toHaveLength(1);
    const file = stored[0] ?? '';
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    const head = Buffer.alloc(512);
    const tail = Buffer.alloc(LINE + 2);
    readSync(fd, head, 0, head.length, 0);
    readSync(fd, tail, 0, tail.length, size - tail.length);
    closeSync(fd);
    const trace = new RegExp(
      `^Received: from client\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\r\n\tby mx\\.test\\.invalid \\(catchall-guard\\) with ESMTP id ${qid}\r\n\tfor <alice@example\\.test>;\r\n\t[^\r\n]+\r\n`,
    ).exec(head.toString('latin1'));
    expect(trace, head.toString('latin1')).not.toBeNull();
    const traceBytes = trace?.[0].length ?? 0;
    expect(head.toString('latin1', traceBytes)).toMatch(/^From: Big Sender <sender@client\.test>\r\n/);
    // exactly our trace header and every byte the client sent, nothing lost or added
    expect(msg.total()).toBeGreaterThanOrEqual(20 * MB);
    expect(size).toBe(traceBytes + msg.total());
    expect(tail.toString('latin1')).toBe(`${msg.lastLine}\r\n`);
    expect(filesIn(path.join(dataDir, 'mail', 'example.test', 'alice', 'tmp'))).toEqual([]);
    expect(filesIn(path.join(dataDir, 'spool'))).toEqual([]);

    const logged = await child.waitFor((l) => l.event === 'message' && l.qid === qid);
    expect(logged).toMatchObject({ outcome: 'stored', size });
  }, 180_000);
});

describe('a message over maxMessageSize (1MB)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ server: { maxMessageSize: '1MB' } });
  });
  afterAll(() => t.stop());

  const maildir = (): string => path.join(t.dataDir, 'mail', 'example.test', 'alice');

  function body(bytes: number): string {
    const line = `${'y'.repeat(LINE)}\r\n`;
    return line.repeat(Math.ceil(bytes / line.length));
  }

  it('EHLO advertises the limit', async () => {
    const { client } = await RawSmtp.connect(t.port);
    const ehlo = await client.cmd('EHLO client.test');
    expect(ehlo.text).toContain(`SIZE ${MB}`);
    client.close();
  });

  it('gets 552 5.3.4 after the data, leaves no file, and the session continues with a new transaction', async () => {
    const { client, sid } = await connectWithSid(t.port, t.events);
    try {
      await client.begin();
      expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
      expect((await client.cmd('DATA')).code).toBe(354);
      client.write(`From: sender@client.test\r\nTo: alice@example.test\r\nSubject: too big\r\n\r\n${body(1.5 * MB)}`);
      const big = await client.cmd('.');
      expect(big.line).toBe(`552 5.3.4 message exceeds the size limit of ${MB} bytes`);

      const e = await t.events.waitFor('message', (m) => m.sid === sid);
      expect(e).toMatchObject({
        sid,
        from: 'sender@client.test',
        code: 552,
        outcome: 'too-large',
        delivered: [],
        quarantined: [],
      });
      expect(filesIn(path.join(t.dataDir, 'spool'))).toEqual([]);
      expect(filesIn(maildir())).toEqual([]);

      // same connection, new transaction
      expect((await client.cmd('MAIL FROM:<sender@client.test>')).code).toBe(250);
      expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
      expect((await client.cmd('DATA')).code).toBe(354);
      client.write('From: sender@client.test\r\nTo: alice@example.test\r\nSubject: small\r\n\r\nsmall one\r\n');
      const small = await client.cmd('.');
      expect(small.line).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
      expect((await client.cmd('QUIT')).line).toBe('221 2.0.0 Bye');
    } finally {
      client.close();
    }
    const stored = filesIn(path.join(maildir(), 'new'));
    expect(stored).toHaveLength(1);
    expect(readFileSync(stored[0] ?? '', 'latin1')).toContain('Subject: small');
    expect(filesIn(path.join(maildir(), 'tmp'))).toEqual([]);
    expect(filesIn(path.join(t.dataDir, 'spool'))).toEqual([]);
    expect(filesIn(path.join(t.dataDir, 'quarantine')).filter((f) => !f.includes(`${path.sep}tmp${path.sep}`))).toEqual(
      [],
    );
  });

  it('a message over the limit to a quarantined recipient leaves no quarantine entry either', async () => {
    const q = await startApp({
      server: { maxMessageSize: '1MB' },
      domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
    });
    try {
      const { client } = await RawSmtp.connect(q.port);
      await client.begin();
      expect((await client.cmd('RCPT TO:<stranger@example.test>')).code).toBe(250);
      expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
      expect((await client.cmd('DATA')).code).toBe(354);
      client.write(`Subject: too big\r\n\r\n${body(1.2 * MB)}`);
      expect((await client.cmd('.')).line).toBe(`552 5.3.4 message exceeds the size limit of ${MB} bytes`);
      client.close();
      expect(filesIn(path.join(q.dataDir, 'quarantine')).filter((f) => /\.(eml|json)$/.test(f))).toEqual([]);
      expect(filesIn(path.join(q.dataDir, 'mail'))).toEqual([]);
      expect(filesIn(path.join(q.dataDir, 'spool'))).toEqual([]);
    } finally {
      await q.stop();
    }
  });

  it('MAIL FROM with a SIZE= over the limit is refused at once with 552 5.3.4', async () => {
    const { client } = await RawSmtp.connect(t.port);
    try {
      expect((await client.cmd('EHLO client.test')).code).toBe(250);
      expect((await client.cmd(`MAIL FROM:<sender@client.test> SIZE=${2 * MB}`)).line).toBe(
        `552 5.3.4 Error: message exceeds fixed maximum message size ${MB}`,
      );
      expect((await client.cmd(`MAIL FROM:<sender@client.test> SIZE=${MB}`)).line).toBe('250 2.1.0 Accepted');
    } finally {
      client.close();
    }
  });

  it('a message just under the limit is accepted', async () => {
    const r = await sendMessage(t.port, {
      from: 'sender@client.test',
      to: ['alice@example.test'],
      raw: `Subject: fits\r\n\r\n${body(MB - 4096)}`,
    });
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
  });
});
