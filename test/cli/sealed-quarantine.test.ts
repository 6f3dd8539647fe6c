// Sealed quarantine (quarantine.sealTo, SPEC §5, issue #14), end to end: the real server over SMTP
// writes the entries, Debian's `age` opens them, the built CLI reads, releases and deletes them. A
// missing `age` fails these tests (.ci/run installs it), it never skips them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import { buildDist } from '../helpers/build-dist.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { listFilesRecursive, pollUntil, queuedId } from '../helpers/files.js';
import { sendVerbatim, simpleMessage } from '../helpers/smtp-client.js';
import { startApp, writeConfig, baseConfig, type TestApp } from '../helpers/start-app.js';
import { startSink, type UpstreamSink } from '../helpers/upstream-sink.js';

const AGE = '/usr/bin/age';
const AGE_KEYGEN = '/usr/bin/age-keygen';

function requireAge(): void {
  if (!existsSync(AGE) || !existsSync(AGE_KEYGEN))
    throw new Error('Debian age (age, age-keygen) is not installed: .ci/run installs it (apt-get install -y age)');
}

/** A fresh X25519 identity file (age-keygen) and its recipient. */
function keygen(dir: string, name: string): { readonly file: string; readonly recipient: string } {
  const file = path.join(dir, name);
  execFileSync(AGE_KEYGEN, ['-o', file], { stdio: 'pipe' });
  return { file, recipient: execFileSync(AGE_KEYGEN, ['-y', file]).toString().trim() };
}

const DOMAINS = [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice', 'bob'] }];

let keyDir: string;
let key: { file: string; recipient: string };
let otherKey: { file: string; recipient: string };
let t: TestApp;
let noticeSink: UpstreamSink;
let qdir: string;

/** Every file under `dir` whose bytes contain `marker`, as paths relative to `dir`. */
function filesContaining(dir: string, marker: string): string[] {
  return listFilesRecursive(dir).filter((f) => readFileSync(path.join(dir, f)).includes(marker));
}

const entryJson = (id: string): QuarantineEntry =>
  JSON.parse(readFileSync(path.join(qdir, `${id}.json`), 'utf8')) as QuarantineEntry;

const q = (args: readonly string[], configPath = t.configPath): Promise<CliResult> =>
  runCli(['quarantine', ...args, '--config', configPath], { env: { CATCHALL_GUARD_DATA_DIR: t.dataDir } });

/** The `quarantine` events a command wrote to stderr (JSON lines; human lines are skipped). */
function quarantineEvents(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e['event'] === 'quarantine');
}

let seq = 0;
async function sendSealed(opts: { body?: string } = {}): Promise<{ id: string; subject: string; body: string }> {
  seq++;
  const subject = `SUBJECT-MARKER-${seq}-${Date.now().toString(36)}`;
  const body = opts.body ?? `BODY-MARKER-${seq}-${Date.now().toString(36)} the stranger's private words`;
  const r = await sendVerbatim(t.port, {
    from: 'orders@shop.example',
    to: ['jane.doe@example.test'],
    raw: simpleMessage({ subject, body }),
  });
  expect(r.code).toBe(250);
  return { id: queuedId(r.response), subject, body };
}

beforeAll(async () => {
  requireAge();
  await buildDist();
  keyDir = mkdtempSync(path.join(tmpdir(), 'cg-age-'));
  key = keygen(keyDir, 'identity.txt');
  otherKey = keygen(keyDir, 'other-identity.txt');
  // a smarthost that defers every notice: notices stay pending, composed, beside the sealed entry
  noticeSink = await startSink('tempfail');
  t = await startApp({
    domains: DOMAINS,
    quarantine: { path: 'quarantine', retention: '14d', sealTo: key.recipient },
    notices: {
      enabled: true,
      requireSenderAuth: 'none',
      transport: { type: 'smtp', host: '127.0.0.1', port: noticeSink.port },
    },
  });
  qdir = t.config.quarantine.path;
}, 180_000);

afterAll(async () => {
  await t?.stop();
  await noticeSink?.close();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

describe('a sealed entry at rest', () => {
  it('is <id>.eml.age in the age format; neither body nor Subject is in clear under the data directory but in the composed notice', async () => {
    const { id, subject, body } = await sendSealed();
    const sealed = path.join(qdir, `${id}.eml.age`);
    expect(existsSync(sealed)).toBe(true);
    expect(existsSync(path.join(qdir, `${id}.eml`))).toBe(false);
    expect(readFileSync(sealed).subarray(0, 22).toString('latin1')).toBe('age-encryption.org/v1\n');
    // the smarthost defers every notice: it waits composed, in clear, until it is sent
    const marker = body.split(' ')[0] ?? body;
    expect(filesContaining(t.dataDir, marker)).toEqual([]);
    expect(filesContaining(t.dataDir, subject)).toEqual([`quarantine/${id}.notice.json`]);
    const json = entryJson(id);
    expect(json.sealed).toBe(true);
    expect(json.subject).toBeNull();
    expect(json.messageId).toBeNull();
    expect(JSON.stringify(json)).not.toContain(subject);
    // for the closing note of #14: what an entry looks like on disk
    console.log(execFileSync('ls', ['-l', qdir]).toString());
    console.log(execFileSync('sh', ['-c', `hexdump -C '${sealed}' | head`]).toString());
  });

  it('opens with the standard age tool and the identity: the message as received, trace header first', async () => {
    const { id, subject, body } = await sendSealed();
    const plain = execFileSync(AGE, ['-d', '-i', key.file, path.join(qdir, `${id}.eml.age`)]).toString();
    expect(plain).toMatch(/^Received: from client\.test/);
    expect(plain).toContain(`Subject: ${subject}`);
    expect(plain).toContain(body);
    // the other identity does not open it
    expect(() =>
      execFileSync(AGE, ['-d', '-i', otherKey.file, path.join(qdir, `${id}.eml.age`)], { stdio: 'pipe' }),
    ).toThrow();
  });
});

describe('show, list and the access record', () => {
  it('show without --identity says what is missing (exit 2) and records nothing', async () => {
    const { id } = await sendSealed();
    for (const args of [
      ['show', id],
      ['show', id, '--raw'],
      ['show', id, '--json'],
    ]) {
      const r = await q(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`entry ${id} is sealed (quarantine.sealTo)`);
      expect(r.stderr).toContain('--identity FILE');
    }
    expect(entryJson(id).access).toEqual([]);
  });

  it('a wrong identity is a clear error (exit 1): nothing printed, the entry unchanged', async () => {
    const { id } = await sendSealed();
    // (the outbox may rewrite the notice state meanwhile: the access record is what a read would change)
    const r = await q(['show', id, '--raw', '--identity', otherKey.file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('the identity does not open it');
    expect(entryJson(id).access).toEqual([]);
    expect(existsSync(path.join(qdir, `${id}.eml.age`))).toBe(true);
    // a file that is no identity at all is bad usage
    const junk = path.join(keyDir, 'junk.txt');
    writeFileSync(junk, 'not a key\n');
    const bad = await q(['show', id, '--identity', junk]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not an age identity');
    expect(entryJson(id).access).toEqual([]);
    // nothing was shown, so no quarantine event either
    expect(quarantineEvents(r.stderr)).toEqual([]);
    // list with the other key: the row says so whole, however narrow the SUBJECT column gets
    const listed = await q(['list', '--identity', otherKey.file]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n').find((l) => l.startsWith(id))).toContain('(sealed to another key)');
    expect(entryJson(id).access).toEqual([]);
  });

  it('show --raw --identity prints the message; each read is recorded first; list shows it', async () => {
    const { id, subject, body } = await sendSealed();
    const raw = await q(['show', id, '--raw', '--identity', key.file]);
    expect(raw.code).toBe(0);
    expect(raw.stdout).toContain(body);
    expect(raw.stdout).toBe(execFileSync(AGE, ['-d', '-i', key.file, path.join(qdir, `${id}.eml.age`)]).toString());
    expect(entryJson(id).access.map((a) => a.action)).toEqual(['show-raw']);
    // SPEC §7: show is a quarantine event, written before anything is printed
    expect(quarantineEvents(raw.stderr)).toEqual([
      expect.objectContaining({ action: 'show', id, raw: true, outcome: 'ok', level: 'info' }),
    ]);

    const pretty = await q(['show', id, '--identity', key.file, '--as', 'auditor']);
    expect(pretty.code).toBe(0);
    expect(pretty.stdout).toMatch(new RegExp(`subject:\\s+${subject}`));
    expect(pretty.stdout).toMatch(/access:\s+\S+ show-raw by \S+; \S+ show by auditor/);
    expect(quarantineEvents(pretty.stderr)).toEqual([
      expect.objectContaining({ action: 'show', id, by: 'auditor', outcome: 'ok' }),
    ]);
    expect(quarantineEvents(pretty.stderr)[0]).not.toHaveProperty('raw');
    const access = entryJson(id).access;
    expect(access.map((a) => [a.action, a.by])).toEqual([
      ['show-raw', access[0]?.by],
      ['show', 'auditor'],
    ]);
    expect(access[0]?.by).not.toBe('');

    // the listing says the entry was opened, and shows no Subject without the key
    const list = await q(['list']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/NOTICE\s+OPENED$/);
    const row = list.stdout.split('\n').find((l) => l.startsWith(id)) ?? '';
    expect(row).toContain('(sealed)');
    expect(row).toContain('2× (last: auditor)');
    expect(list.stdout).not.toContain(subject);

    // with the key the Subject is shown, and reading it is an access too
    const revealed = await q(['list', '--identity', key.file, '--as', 'auditor']);
    expect(revealed.code).toBe(0);
    const revealedRow = revealed.stdout.split('\n').find((l) => l.startsWith(id)) ?? '';
    expect(revealedRow).not.toContain('(sealed)');
    expect(revealedRow).toContain('SUBJECT-MAR');
    expect(revealedRow).toContain('3× (last: auditor)');
    const asJson = await q(['list', '--json', '--identity', key.file, '--as', 'auditor']);
    const listed = (JSON.parse(asJson.stdout) as QuarantineEntry[]).find((e) => e.id === id);
    expect(listed?.subject).toBe(subject);
    expect(entryJson(id).access.map((a) => a.action)).toEqual(['show-raw', 'show', 'list', 'list']);
    // the JSON on disk still holds no Subject
    expect(entryJson(id).subject).toBeNull();
  });

  it('an entry never read lists as "no"', async () => {
    const { id } = await sendSealed();
    const list = await q(['list']);
    expect(list.stdout.split('\n').find((l) => l.startsWith(id))).toMatch(/\sno$/);
  });
});

describe('release and delete', () => {
  it('release needs the identity (exit 2), refuses a wrong one (exit 1, kept) and delivers the decrypted message to the Maildir', async () => {
    const { id, body } = await sendSealed();
    const none = await q(['release', id, '--to', 'alice@example.test']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('quarantine release needs --identity FILE');
    const wrong = await q(['release', id, '--to', 'alice@example.test', '--identity', otherKey.file]);
    expect(wrong.code).toBe(1);
    expect(existsSync(path.join(qdir, `${id}.eml.age`))).toBe(true);
    expect(entryJson(id).access).toEqual([]);

    const r = await q(['release', id, '--to', 'alice@example.test', '--identity', key.file, '--as', 'ops']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`released ${id} to alice@example.test\n`);
    const inbox = path.join(t.dataDir, 'mail', 'example.test', 'alice', 'new');
    const delivered = readdirSync(inbox).map((f) => readFileSync(path.join(inbox, f), 'utf8'));
    expect(delivered.some((m) => m.includes(body))).toBe(true);
    expect(readdirSync(qdir).filter((f) => f.startsWith(id))).toEqual([]);
    expect(quarantineEvents(r.stderr)).toEqual([
      expect.objectContaining({
        event: 'quarantine',
        action: 'release',
        id,
        by: 'ops',
        outcome: 'ok',
        to: 'alice@example.test',
      }),
    ]);
  });

  it('release through an upstream mailbox server delivers the decrypted message', async () => {
    const sink = await startSink('accept');
    try {
      const { configPath } = writeConfig(
        baseConfig({
          domains: DOMAINS,
          delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: sink.port } },
          quarantine: { path: 'quarantine', retention: '14d', sealTo: key.recipient },
        }),
      );
      const { id, body, subject } = await sendSealed();
      const r = await q(['release', id, '--to', 'bob@example.test', '--identity', key.file], configPath);
      expect(r.code).toBe(0);
      const [m] = await sink.waitForMessages(1);
      expect(m?.to).toEqual(['bob@example.test']);
      expect(m?.raw.toString()).toContain(body);
      expect(m?.raw.toString()).toContain(`Subject: ${subject}`);
      expect(existsSync(path.join(qdir, `${id}.json`))).toBe(false);
    } finally {
      await sink.close();
    }
  });

  it('delete records the access before the entry goes and writes a quarantine event; purge writes one too', async () => {
    const { id } = await sendSealed();
    const r = await q(['delete', id, '--as', 'ops']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`deleted ${id}\n`);
    expect(readdirSync(qdir).filter((f) => f.startsWith(id))).toEqual([]);
    expect(quarantineEvents(r.stderr)).toEqual([
      expect.objectContaining({ action: 'delete', id, by: 'ops', outcome: 'ok', level: 'info' }),
    ]);
    const again = await q(['delete', id]);
    expect(again.code).toBe(1);
    expect(quarantineEvents(again.stderr)).toEqual([
      expect.objectContaining({ action: 'delete', id, outcome: 'not-found' }),
    ]);
    const purge = await q(['purge', '--as', 'ops']);
    expect(purge.code).toBe(0);
    expect(quarantineEvents(purge.stderr)).toEqual([
      expect.objectContaining({ action: 'purge', by: 'ops', outcome: 'ok', deleted: 0, ids: [] }),
    ]);
  });
});

describe('quarantine events with log.file', () => {
  it('go into the same rotated files the server writes, not to stderr', async () => {
    const { configPath } = writeConfig({
      ...baseConfig({ domains: DOMAINS, quarantine: { path: 'quarantine', retention: '14d', sealTo: key.recipient } }),
      log: { level: 'info', file: { path: 'log/guard.log' } },
    });
    const { id } = await sendSealed();
    const r = await q(['delete', id, '--as', 'ops'], configPath);
    expect(r.code, r.stderr).toBe(0);
    expect(quarantineEvents(r.stderr)).toEqual([]);
    const logDir = path.join(t.dataDir, 'log');
    const logged = readdirSync(logDir)
      .flatMap((f) => readFileSync(path.join(logDir, f), 'utf8').split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({ event: 'quarantine', action: 'delete', id, by: 'ops', outcome: 'ok' }),
    );
  });
});

describe('the notice of a sealed entry', () => {
  it('is composed at receipt and sent from there; once sent, the composed copy is gone', async () => {
    const sink = await startSink('accept');
    const app = await startApp({
      domains: DOMAINS,
      quarantine: { path: 'quarantine', retention: '14d', sealTo: key.recipient },
      notices: {
        enabled: true,
        requireSenderAuth: 'none',
        transport: { type: 'smtp', host: '127.0.0.1', port: sink.port },
      },
    });
    try {
      const subject = `NOTICE-SUBJECT-${Date.now().toString(36)}`;
      const r = await sendVerbatim(app.port, {
        from: 'orders@shop.example',
        to: ['jane.doe@example.test'],
        raw: simpleMessage({ subject, body: 'sealed body' }),
      });
      const id = queuedId(r.response);
      const [notice] = await sink.waitForMessages(1, 10_000);
      expect(notice?.to).toEqual(['orders@shop.example']);
      // the dsn format quotes the original header block, Subject included, as composed at receipt
      expect(notice?.raw.toString()).toContain(subject);
      const qd = app.config.quarantine.path;
      await pollUntil(
        () => (existsSync(path.join(qd, `${id}.notice.json`)) ? undefined : true),
        'the composed notice to be deleted',
      );
      const json = JSON.parse(readFileSync(path.join(qd, `${id}.json`), 'utf8')) as QuarantineEntry;
      expect(json.notice.status).toBe('sent');
      expect(filesContaining(app.dataDir, subject)).toEqual([]);
    } finally {
      await app.stop();
      await sink.close();
    }
  });
});
