// Batched log lines (logger.ts: 4 KiB or 100 ms) must still reach log.file when the process ends
// through process.exit: main.ts's crash handler exits at once on an internal error, and a second
// SIGTERM during the drain does too; their last lines are the operator's only record of what
// happened. Real child processes (the built logger), real files.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseRuntimeInfo, runtimeFilePath } from '../../src/app/runtime-file.js';
import { buildDist, MAIN_JS, ROOT } from '../helpers/build-dist.js';
import { cleanEnv } from '../helpers/cli.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig } from '../helpers/start-app.js';

const dirs: string[] = [];
beforeAll(async () => {
  await buildDist();
}, 240_000);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function fileEvents(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

it('a second SIGTERM (forced exit) still writes its shutdown line to log.file', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-logforced-'));
  dirs.push(dir);
  const dataDir = path.join(dir, 'data');
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, stringify({ ...baseConfig(), log: { level: 'info', file: { path: 'log/guard.log' } } }));
  const child = spawn(process.execPath, [MAIN_JS, 'serve', '--config', configPath], {
    cwd: ROOT,
    env: { ...cleanEnv(), CATCHALL_GUARD_DATA_DIR: dataDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logFile = path.join(dataDir, 'log', 'guard.1.log');
  try {
    const runFile = runtimeFilePath(dataDir);
    const deadline = Date.now() + 20_000;
    while (!existsSync(runFile)) {
      if (Date.now() > deadline) throw new Error(`no runtime file; stderr: ${stderr}`);
      await pause(50);
    }
    const info = parseRuntimeInfo(readFileSync(runFile, 'utf8'));
    if (!info) throw new Error('unreadable runtime file');
    // a transaction in DATA keeps the drain waiting (30 s grace), so the second signal is the one that ends it
    const { client } = await RawSmtp.connect(info.smtp.port);
    await client.begin();
    expect((await client.cmd('RCPT TO:<alice@example.test>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    client.write('Subject: never finished\r\n\r\npart\r\n');
    child.kill('SIGTERM');
    const drainDeadline = Date.now() + 10_000;
    while (!fileEvents(logFile).some((e) => e['event'] === 'shutdown' && e['phase'] === 'draining')) {
      if (Date.now() > drainDeadline) throw new Error(`no draining line; stderr: ${stderr}`);
      await pause(20);
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
    client.close();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const events = fileEvents(logFile);
  expect(events.filter((e) => e['event'] === 'shutdown').map((e) => e['phase'])).toEqual(['draining', 'forced']);
}, 60_000);

it('process.exit right after a line (the crash handler) still leaves the line in log.file, as on stdout', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-logexit-'));
  dirs.push(dir);
  const file = path.join(dir, 'log', 'guard.log');
  const logger = path.join(ROOT, 'dist', 'observability', 'logger.js');
  // as main.ts on an uncaught exception: the event is logged, then process.exit without a flush
  const script = `
    const { createLogger, openLogFile, openLogDestination } = await import(${JSON.stringify(logger)});
    const toFile = process.argv[1] === 'file';
    const dest = toFile
      ? await openLogFile({ path: ${JSON.stringify(file)}, maxSize: 1048576, keep: 2 })
      : await openLogDestination({ level: 'info' });
    const log = createLogger('info', dest);
    log.info({ event: 'error', where: 'test', error: 'the last words' });
    process.exit(1);
  `;
  for (const mode of ['stdout', 'file']) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, mode], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    const lines =
      mode === 'file'
        ? fileEvents(path.join(dir, 'log', 'guard.1.log'))
        : r.stdout
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [mode, l['error']])).toEqual([[mode, 'the last words']]);
  }
});
