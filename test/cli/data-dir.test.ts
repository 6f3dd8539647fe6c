// The data directory does not depend on the working directory of a CLI call: `dataDir` in the
// configuration (relative to the file), CATCHALL_GUARD_DATA_DIR over it, ./data of the working
// directory when neither is set (SPEC §3). And `quarantine list` / `report` print addresses whole.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveDataDir } from '../../src/config/load.js';
import { buildDist, MAIN_JS } from '../helpers/build-dist.js';
import { cleanEnv } from '../helpers/cli.js';
import { sendVerbatim, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

const exec = promisify(execFile);

/** The built CLI run from `cwd`, with only the CATCHALL_GUARD_* variables given. */
async function cliIn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await exec(process.execPath, [MAIN_JS, ...args], { cwd, env: { ...cleanEnv(), ...env } });
  return r.stdout;
}

// 60 characters each: what an operator copies into the recipients file must come out whole
const SENDER = `${'s'.repeat(47)}@shop.example`;
const RECIPIENT = `${'jane.doe.'.repeat(5)}xx@example.test`;
const OTHER = 'bob.the.builder.with.a.longer.name@example.test';

let t: TestApp;
let elsewhere: string;

beforeAll(async () => {
  await buildDist();
  t = await startApp({
    domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
  });
  // the server got its data directory from the environment; the file now says the same, relatively
  writeFileSync(t.configPath, `dataDir: data\n${readFileSync(t.configPath, 'utf8')}`);
  elsewhere = mkdtempSync(path.join(tmpdir(), 'cg-cwd-'));
  const r = await sendVerbatim(t.port, {
    from: SENDER,
    to: [RECIPIENT, OTHER, 'x@example.test'],
    raw: simpleMessage({ subject: `A subject long enough to be cut ${'z'.repeat(80)}` }),
  });
  expect(r.code).toBe(250);
}, 180_000);

afterAll(async () => {
  await t?.stop();
  rmSync(elsewhere, { recursive: true, force: true });
});

describe('resolveDataDir', () => {
  it.each([
    // env, file, → result (cwd /work, config dir /etc/cg)
    [undefined, undefined, '/work/data'],
    [undefined, 'data', '/etc/cg/data'],
    [undefined, '../var', '/etc/var'],
    [undefined, '/var/lib/cg', '/var/lib/cg'],
    ['/srv/d', '/var/lib/cg', '/srv/d'],
    ['rel', '/var/lib/cg', '/work/rel'],
    ['', 'data', '/etc/cg/data'],
  ])('CATCHALL_GUARD_DATA_DIR=%j, dataDir: %j → %s', (env, file, expected) => {
    const e: NodeJS.ProcessEnv = env === undefined ? {} : { CATCHALL_GUARD_DATA_DIR: env };
    expect(resolveDataDir(file, { env: e, cwd: '/work', configDir: '/etc/cg' })).toBe(expected);
  });
});

describe('quarantine list from another working directory', () => {
  it('with dataDir in the configuration, lists what the server stored', async () => {
    const out = await cliIn(elsewhere, ['quarantine', 'list', '--config', t.configPath]);
    expect(out).toContain(RECIPIENT);
    const json = JSON.parse(await cliIn('/', ['quarantine', 'list', '--json', '--config', t.configPath])) as unknown[];
    expect(json).toHaveLength(1);
  });

  it('CATCHALL_GUARD_DATA_DIR wins over dataDir; a missing quarantine directory is named, not "empty"', async () => {
    const out = await cliIn(elsewhere, ['quarantine', 'list', '--config', t.configPath], {
      CATCHALL_GUARD_DATA_DIR: 'other',
    });
    expect(out).toBe(
      `no quarantine directory at ${path.join(elsewhere, 'other', 'quarantine')}: nothing was quarantined there yet, or the server keeps its data elsewhere (set dataDir in the configuration, or CATCHALL_GUARD_DATA_DIR, to the server's data directory)\n`,
    );
    const json = await exec(process.execPath, [MAIN_JS, 'quarantine', 'list', '--json', '--config', t.configPath], {
      cwd: elsewhere,
      env: { ...cleanEnv(), CATCHALL_GUARD_DATA_DIR: 'other' },
    });
    expect(json.stdout).toBe('[]\n');
    expect(json.stderr).toContain(`no quarantine directory at ${path.join(elsewhere, 'other', 'quarantine')}`);
  });

  it('without dataDir and the variable: ./data of the working directory (SPEC §3)', async () => {
    const bare = path.join(elsewhere, 'bare.yaml');
    writeFileSync(bare, readFileSync(t.configPath, 'utf8').replace(/^dataDir: data\n/, ''));
    const out = await cliIn(elsewhere, ['quarantine', 'list', '--config', bare]);
    expect(out).toContain(`no quarantine directory at ${path.join(elsewhere, 'data', 'quarantine')}`);
  });
});

describe('addresses are printed whole', () => {
  it('quarantine list: a 60-character sender and recipient whole, one recipient a line, the subject cut', async () => {
    expect(SENDER).toHaveLength(60);
    expect(RECIPIENT).toHaveLength(60);
    const lines = (await cliIn('/', ['quarantine', 'list', '--config', t.configPath])).trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    const recipientsAt = lines[0]?.indexOf('RECIPIENTS') ?? -1;
    expect(lines[1]).toContain(`  ${SENDER}  ${RECIPIENT}  A subject`);
    expect(lines[1]).toContain('…');
    // the other recipients on their own lines, in the RECIPIENTS column, nothing else on them
    expect(lines[2]).toBe(`${' '.repeat(recipientsAt)}${OTHER}`);
    expect(lines[3]).toBe(`${' '.repeat(recipientsAt)}x@example.test`);
    expect(lines.join('\n')).not.toMatch(/s…|e…@|\.…/);
  });

  it('report: a 60-character unknown recipient whole', async () => {
    const log = path.join(elsewhere, 'guard.log');
    const line = (rcpt: string, from: string): string =>
      JSON.stringify({
        level: 'info',
        time: '2026-11-20T10:00:00.000Z',
        event: 'rcpt',
        sid: 's1',
        from,
        rcpt,
        decision: 'reject',
        code: 550,
      });
    writeFileSync(log, `${line(RECIPIENT, SENDER)}\n${line(OTHER, 'x@a-sender-domain-with-a-long-name.example')}\n`);
    const out = await cliIn('/', ['report', '--log', log]);
    const rows = out.split('\n').filter((l) => l.includes('@example.test'));
    expect(rows).toHaveLength(2);
    expect(rows[0]?.startsWith(`${RECIPIENT}  `) || rows[1]?.startsWith(`${RECIPIENT}  `)).toBe(true);
    expect(rows.some((r) => r.startsWith(`${OTHER} `))).toBe(true);
  });
});
