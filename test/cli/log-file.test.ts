// `log.file`: the JSON event log into rotated files (pino-roll) instead of stdout, for an observe
// period that lasts weeks. Real files, the built CLI for `serve` and `report`.
import { spawn } from 'node:child_process';
import { once, type EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseRuntimeInfo, runtimeFilePath } from '../../src/app/runtime-file.js';
import { createEventSink } from '../../src/observability/events.js';
import { createLogger, openLogFile } from '../../src/observability/logger.js';
import { buildDist, MAIN_JS, ROOT } from '../helpers/build-dist.js';
import { cleanEnv, runCli } from '../helpers/cli.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig } from '../helpers/start-app.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-logfile-'));
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  await buildDist();
}, 240_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `guard.<n>.log` files of a directory, by number. */
function logFiles(dir: string): { name: string; n: number; size: number }[] {
  return readdirSync(dir)
    .map((name) => ({ name, m: /^guard\.(\d+)\.log$/.exec(name) }))
    .filter((f) => f.m !== null)
    .map((f) => ({ name: f.name, n: Number(f.m?.[1]), size: statSync(path.join(dir, f.name)).size }))
    .sort((a, b) => a.n - b.n);
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('rotation', () => {
  it('a new file at maxSize, `keep` files kept (the one written included), every line whole JSON', async () => {
    const dir = tempDir();
    const logDir = path.join(dir, 'log');
    const maxSize = 2048;
    const stream = await openLogFile({ path: path.join(logDir, 'guard.log'), maxSize, keep: 3 });
    const log = createLogger('info', stream);
    const events = createEventSink(log);
    const total = 150;
    for (let i = 0; i < total; i++) {
      // a server's events come spread over time, one write each; all in one tick would be one write
      const written = once(stream as unknown as EventEmitter, 'write');
      events.emit({
        event: 'rcpt',
        sid: `s${i}`,
        from: 'news@sender.example',
        rcpt: `u${i}@example.test`,
        decision: 'observe',
        code: 250,
      });
      await written;
    }
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    await pause(200); // the last rotation's clean-up runs after its reopen

    const files = logFiles(logDir);
    expect(files).toHaveLength(3);
    // consecutive numbers: the oldest were deleted, numbering went on
    expect(files.map((f) => f.n)).toEqual([files[0]!.n, files[0]!.n + 1, files[0]!.n + 2]);
    expect(files[0]!.n).toBeGreaterThan(3);
    const lines = files.flatMap((f) =>
      readFileSync(path.join(logDir, f.name), 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
    );
    const lineLength = Math.max(...lines.map((l) => l.length + 1));
    // a file is closed by the first write that reaches maxSize: past it by less than one line here
    for (const f of files.slice(0, -1)) {
      expect(f.size).toBeGreaterThanOrEqual(maxSize);
      expect(f.size).toBeLessThan(maxSize + lineLength);
    }
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.every((p) => p['event'] === 'rcpt' && p['level'] === 'info')).toBe(true);
    // the newest events are the ones kept, in order
    const numbers = parsed.map((p) => Number(String(p['rcpt']).replace(/^u(\d+)@.*/, '$1')));
    expect(numbers.at(-1)).toBe(total - 1);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(statSync(path.join(logDir, files[0]!.name)).mode & 0o777).toBe(0o600);
    expect(statSync(logDir).mode & 0o777).toBe(0o700);

    // `report` reads them all through stdin: `cat data/log/guard.*.log | catchall-guard report`
    const joined = Buffer.concat(files.map((f) => readFileSync(path.join(logDir, f.name))));
    const r = await runCli(['report', '--json'], { input: joined });
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { unknownRecipients: number; events: number };
    expect(summary).toMatchObject({ unknownRecipients: lines.length, events: lines.length });
  });

  it('an existing set is continued after a restart: the newest file goes on, the count still holds', async () => {
    const dir = tempDir();
    for (const n of [4, 5, 6, 7]) writeFileSync(path.join(dir, `guard.${n}.log`), `{"n":${n}}\n`);
    const stream = await openLogFile({ path: path.join(dir, 'guard.log'), maxSize: 1024, keep: 2 });
    const log = createLogger('info', stream);
    log.info({ event: 'purge', deleted: 0 });
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    await pause(50);
    expect(readFileSync(path.join(dir, 'guard.7.log'), 'utf8')).toMatch(
      /^\{"n":7\}\n\{"level":"info".*"event":"purge"/,
    );
    // beyond `keep`, older files go at the next rotation (whichever run wrote them)
    for (let i = 0; i < 12; i++) {
      log.info({ event: 'purge', deleted: i, pad: 'x'.repeat(100) });
      await pause(1);
    }
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    await pause(200);
    const after = logFiles(dir).map((f) => f.n);
    expect(after).toHaveLength(2);
    expect(after[1]).toBe(after[0]! + 1);
    expect(after[0]).toBeGreaterThanOrEqual(7);
  });
});

describe('serve with log.file', () => {
  it('writes its events to the file, nothing to stdout; report --log reads the file', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir, 'data');
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, stringify({ ...baseConfig(), log: { level: 'info', file: { path: 'log/guard.log' } } }));
    const child = spawn(process.execPath, [MAIN_JS, 'serve', '--config', configPath], {
      cwd: ROOT,
      env: { ...cleanEnv(), CATCHALL_GUARD_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // the server says where it listens in its runtime file (stdout is silent by design)
      const runFile = runtimeFilePath(dataDir);
      const deadline = Date.now() + 15_000;
      while (!existsSync(runFile)) {
        if (Date.now() > deadline) throw new Error(`no runtime file; stderr: ${stderr}`);
        await pause(50);
      }
      const info = parseRuntimeInfo(readFileSync(runFile, 'utf8'));
      if (!info) throw new Error('unreadable runtime file');
      expect(info.pid).toBe(child.pid);
      const { client: c } = await RawSmtp.connect(info.smtp.port);
      await c.cmd('EHLO client.test');
      await c.cmd('MAIL FROM:<a@sender.example>');
      expect((await c.cmd('RCPT TO:<nobody@example.test>')).code).toBe(550);
      await c.cmd('QUIT');
      c.close();
      await pause(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stdout).toBe('');
    const file = path.join(dataDir, 'log', 'guard.1.log');
    const events = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events).toContain('listening');
    expect(events.filter((e) => ['connect', 'rcpt', 'close'].includes(e))).toEqual(['connect', 'rcpt', 'close']);
    // the last line, written before the exit: the log was flushed into the file
    expect(events.at(-1)).toBe('shutdown');
    const r = await runCli(['report', '--log', file, '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ unknownRecipients: 1, recipients: [{ rcpt: 'nobody@example.test' }] });
  });

  it('a log.file that cannot be opened stops serve before it listens: exit 1, the reason on stderr', async () => {
    const dir = tempDir();
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, stringify({ ...baseConfig(), log: { file: { path: '/dev/null/guard/guard.log' } } }));
    const r = await runCli(['serve', '--config', configPath], {
      env: { CATCHALL_GUARD_DATA_DIR: path.join(dir, 'data') },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('catchall-guard: log.file: cannot open /dev/null/guard/guard.log: ENOTDIR\n');
    expect(r.stdout).toBe('');
  });
});
