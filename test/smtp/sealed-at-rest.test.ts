// Sealed quarantine at rest (#14), with the compiled server in a child process: a kill -9 in the middle
// of DATA leaves no byte of the message in clear anywhere under the data directory (the spool of a
// sealed transaction is in memory), and a 25 MB message is sealed with bounded memory growth.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, ROOT } from '../helpers/build-dist.js';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { listFilesRecursive, pollUntil, queuedId } from '../helpers/files.js';
import { RawSmtp, sendMessage } from '../helpers/smtp-client.js';
import { baseConfig, writeConfig } from '../helpers/start-app.js';

const MB = 1024 * 1024;
const AGE = '/usr/bin/age';
const AGE_KEYGEN = '/usr/bin/age-keygen';
const QUARANTINE_DOMAIN = [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }];

let keyDir: string;
let identity: string;
let recipient: string;
const dirs: string[] = [];
const children: ChildServer[] = [];

beforeAll(async () => {
  if (!existsSync(AGE) || !existsSync(AGE_KEYGEN))
    throw new Error('Debian age (age, age-keygen) is not installed: .ci/run installs it (apt-get install -y age)');
  await buildDist();
  keyDir = mkdtempSync(path.join(tmpdir(), 'cg-age-'));
  identity = path.join(keyDir, 'identity.txt');
  execFileSync(AGE_KEYGEN, ['-o', identity], { stdio: 'pipe' });
  recipient = execFileSync(AGE_KEYGEN, ['-y', identity]).toString().trim();
}, 180_000);

afterAll(() => {
  for (const c of children) c.proc.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

function filesContaining(dir: string, marker: string): string[] {
  return listFilesRecursive(dir).filter((f) => readFileSync(path.join(dir, f)).includes(marker));
}

/**
 * Starts the built server, begins DATA to an unknown recipient and sends half a message of ~200 KB
 * (past the 64 KiB a message in clear keeps in memory) with `marker` in its body, then kill -9.
 * Returns the files under the data directory holding the marker.
 */
async function killMidData(quarantine: Record<string, unknown>, marker: string): Promise<string[]> {
  const { dir, configPath, dataDir } = writeConfig(baseConfig({ domains: QUARANTINE_DOMAIN, quarantine }));
  dirs.push(dir);
  const server = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir });
  children.push(server);
  const { client } = await RawSmtp.connect(server.port);
  try {
    await client.begin('stranger@client.test');
    expect((await client.cmd('RCPT TO:<nobody@example.test>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    client.write(
      `Subject: half\r\nMessage-ID: <half@client.test>\r\n\r\n${`${marker} private words\r\n`.repeat(6000)}`,
    );
    // the server has read it once its spool (or memory) holds all of it: give it a moment
    await new Promise((r) => setTimeout(r, 1000));
    server.proc.kill('SIGKILL');
    expect((await server.exited).signal).toBe('SIGKILL');
  } finally {
    client.close();
  }
  return filesContaining(dataDir, marker);
}

describe('kill -9 in the middle of DATA', () => {
  it('without sealTo the half message is in a spool file (the probe below sees what it looks for)', async () => {
    const found = await killMidData({ path: 'quarantine', retention: '14d' }, 'CLEAR-MARKER-1');
    expect(found.length).toBe(1);
    expect(found[0]).toMatch(/^spool\//);
  }, 60_000);

  it('with sealTo no file under the data directory holds any of it', async () => {
    const found = await killMidData({ path: 'quarantine', retention: '14d', sealTo: recipient }, 'SEALED-MARKER-1');
    expect(found).toEqual([]);
  }, 60_000);
});

interface MemoryLine {
  readonly event?: string;
  readonly kind?: string;
  readonly port?: number;
  readonly peak?: NodeJS.MemoryUsage;
  readonly baseline?: NodeJS.MemoryUsage;
  readonly samples?: number;
}

/** A message of `bodyBytes` body bytes in 64 KiB chunks, with `marker` on its first body line. */
function generated(bodyBytes: number, marker: string): { stream: Readable; total: () => number } {
  const line = `${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_'.repeat(1)}0123456789ab\r\n`;
  let produced = 0;
  function* chunks(): Generator<Buffer> {
    const head = Buffer.from(
      `From: sender@client.test\r\nTo: nobody@example.test\r\nSubject: big sealed\r\nMessage-ID: <big@client.test>\r\n\r\n${marker}\r\n`,
    );
    produced += head.length;
    yield head;
    const chunk = Buffer.from(line.repeat(Math.floor((64 * 1024) / line.length)));
    while (produced < bodyBytes) {
      produced += chunk.length;
      yield chunk;
    }
  }
  return { stream: Readable.from(chunks(), { objectMode: false }), total: () => produced };
}

describe('a 25 MB sealed message', () => {
  let child: ChildProcessWithoutNullStreams;
  const lines: MemoryLine[] = [];
  let dataDir: string;

  const waitFor = (pred: (l: MemoryLine) => boolean, from = 0): Promise<MemoryLine> =>
    pollUntil(() => lines.slice(from).find(pred), 'a line from the memory app', 30_000);
  const memory = async (kind: 'baseline' | 'report'): Promise<MemoryLine> => {
    const from = lines.length;
    child.stdin.write(`${kind}\n`);
    return waitFor((l) => l.event === 'memory' && l.kind === kind, from);
  };

  beforeAll(async () => {
    const written = writeConfig(
      baseConfig({
        server: { maxMessageSize: '32MB', listen: { host: '127.0.0.1', port: 0 } },
        domains: QUARANTINE_DOMAIN,
        quarantine: { path: 'quarantine', retention: '14d', sealTo: recipient },
      }),
    );
    dirs.push(written.dir);
    dataDir = written.dataDir;
    child = spawn(
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
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        lines.push(JSON.parse(l) as MemoryLine);
      } catch {
        // not a log line
      }
    });
    await waitFor((l) => l.event === 'listening');
  }, 120_000);

  afterAll(async () => {
    child?.stdin.write('stop\n');
    await new Promise((r) => setTimeout(r, 500));
    child?.kill('SIGKILL');
  });

  it('is sealed whole, opens with age, and the server grows by a bounded amount', async () => {
    const port = (await waitFor((l) => l.event === 'listening')).port ?? 0;
    const base = (await memory('baseline')).baseline;
    const marker = `BIG-SEALED-MARKER-${Date.now().toString(36)}`;
    const msg = generated(25 * MB, marker);
    const started = Date.now();
    const r = await sendMessage(port, { from: 'sender@client.test', to: ['nobody@example.test'], raw: msg.stream });
    const seconds = (Date.now() - started) / 1000;
    expect(r.code, r.response).toBe(250);
    const qid = queuedId(r.response);
    const report = await memory('report');
    if (!base || !report.peak) throw new Error('no memory figures');
    const heap = report.peak.heapUsed - base.heapUsed;
    const buffers = report.peak.arrayBuffers - base.arrayBuffers;
    const rss = report.peak.rss - base.rss;
    console.log(
      `25 MB sealed message (${(msg.total() / MB).toFixed(1)} MB sent in ${seconds.toFixed(1)} s): peak growth ` +
        `heapUsed ${(heap / MB).toFixed(1)} MB, arrayBuffers ${(buffers / MB).toFixed(1)} MB, rss ${(rss / MB).toFixed(1)} MB ` +
        `(${report.samples} samples)`,
    );
    // the message is held once in memory while it arrives (Buffers), then sealed 64 KiB at a time:
    // the JS heap stays small, and all of it together stays within three times the message
    expect(heap).toBeLessThan(64 * MB);
    expect(heap + buffers).toBeLessThan(3 * 25 * MB);

    const qdir = path.join(dataDir, 'quarantine');
    const sealed = path.join(qdir, `${qid}.eml.age`);
    expect(filesContaining(dataDir, marker)).toEqual([]);
    const plain = execFileSync(AGE, ['-d', '-i', identity, sealed], { maxBuffer: 64 * MB });
    expect(plain.includes(marker)).toBe(true);
    expect(plain.length).toBeGreaterThan(msg.total());
  }, 180_000);
});
