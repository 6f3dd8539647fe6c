// `quarantine list|show|release|delete|purge`, run as the built CLI against real entries
// made by the real app (quarantine mode over SMTP) or planted through the store API.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import { newMessageId, type MessageId } from '../../src/quarantine/id.js';
import { createQuarantineStore, UnsafeEntryFileError, type QuarantineStore } from '../../src/quarantine/store.js';
import { sendVerbatim, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig, startApp, writeConfig, type TestApp } from '../helpers/start-app.js';
import { startSink, type UpstreamSink } from '../helpers/upstream-sink.js';
import { buildDist } from '../helpers/build-dist.js';
import { runCli, type CliResult } from '../helpers/cli.js';
const cli = (args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> => runCli(args, { env });

// ---- the built CLI ----

const noStackTrace = (r: CliResult): void => {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).not.toMatch(/\n\s+at /);
};

// ---- a running app in quarantine mode, and the CLI pointed at its data ----
let t: TestApp;
let store: QuarantineStore;
let qdir: string;
const DOMAINS = [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice', 'bob'] }];

const q = (...args: string[]): Promise<CliResult> =>
  cli(['quarantine', ...args, '--config', t.configPath], { CATCHALL_GUARD_DATA_DIR: t.dataDir });

async function quarantineOverSmtp(opts: { to?: string[]; subject?: string; from?: string } = {}): Promise<string> {
  const r = await sendVerbatim(t.port, {
    from: opts.from ?? 'orders@shop.example',
    to: opts.to ?? ['jane.doe@example.test'],
    raw: simpleMessage({ subject: opts.subject ?? 'Your order' }),
  });
  expect(r.code).toBe(250);
  const qid = /queued as (\S+)/.exec(r.response)?.[1];
  if (!qid) throw new Error(`no queue id in ${r.response}`);
  expect(existsSync(path.join(qdir, `${qid}.json`))).toBe(true);
  return qid;
}

/** An entry through the store API, with the dates a test needs. */
async function plant(opts: {
  receivedAt: Date;
  expiresAt: Date;
  bodyStored?: boolean;
  subject?: string;
  mailFrom?: string;
  recipients?: string[];
}): Promise<MessageId> {
  const id = newMessageId(opts.receivedAt);
  const raw = `Received: from client.test\r\n${simpleMessage({ subject: opts.subject ?? 'planted' })}`;
  const spool = path.join(t.dir, `spool-${id}`);
  writeFileSync(spool, raw);
  const entry: QuarantineEntry = {
    id,
    receivedAt: opts.receivedAt.toISOString(),
    expiresAt: opts.expiresAt.toISOString(),
    remoteAddress: '192.0.2.7',
    helo: 'client.test',
    mailFrom: opts.mailFrom ?? 'sender@client.test',
    recipients: opts.recipients ?? ['stranger@example.test'],
    deliveredTo: [],
    size: raw.length,
    bodyStored: opts.bodyStored ?? true,
    messageId: '<planted@client.test>',
    subject: opts.subject ?? 'planted',
    headerFrom: 'Sender <sender@client.test>',
    headers: {},
    auth: null,
    kind: 'quarantined',
    access: [],
    notice: { status: 'suppressed', reason: 'test', attempts: 0 },
  };
  const prepared = await store.prepare(
    entry,
    {
      kind: 'file',
      path: spool,
      size: raw.length,
      headerBlock: Buffer.alloc(0),
      headerEnd: raw.indexOf('\r\n\r\n') + 4,
    },
    entry.bodyStored,
  );
  await prepared.commit();
  rmSync(spool);
  return id;
}

const DAY = 86_400_000;

beforeAll(async () => {
  await buildDist();
  t = await startApp({ domains: DOMAINS });
  qdir = t.config.quarantine.path;
  store = createQuarantineStore(qdir);
}, 180_000);

afterAll(async () => {
  await t?.stop();
});

describe('quarantine list', () => {
  it('lists entries newest first as a table: addresses whole, one recipient a line, a long subject cut with …', async () => {
    const longSubject = `Invoice ${'x'.repeat(150)}`;
    const first = await quarantineOverSmtp({ subject: 'first one' });
    const second = await quarantineOverSmtp({
      subject: longSubject,
      to: ['jane.doe@example.test', 'john.smith.with.a.long.name@example.test', 'someone.else@example.test'],
    });
    // an escape sequence in an encoded subject must not reach the terminal
    const third = await quarantineOverSmtp({ subject: '=?UTF-8?B?G1szMW1yZWQbWzBt?=' });

    const r = await q('list');
    expect(r.code).toBe(0);
    noStackTrace(r);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+RECEIVED \(UTC\)\s+SENDER\s+RECIPIENTS\s+SUBJECT\s+NOTICE\s+OPENED$/);
    // the recipients of the second entry each whole, the first on its row, the others below it
    const to = lines.findIndex((l) => l.startsWith(second));
    expect(lines[to]).toContain('  jane.doe@example.test  ');
    expect(lines[to + 1]?.trim()).toBe('john.smith.with.a.long.name@example.test');
    expect(lines[to + 2]?.trim()).toBe('someone.else@example.test');
    const order = [third, second, first].map((id) => lines.findIndex((l) => l.startsWith(id)));
    expect(order.every((i) => i > 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const secondLine = lines.find((l) => l.startsWith(second)) ?? '';
    expect(secondLine).toContain('…');
    expect(secondLine).toContain('orders@shop.example');
    expect(secondLine).toMatch(/suppressed\s+no$/);
    expect(r.stdout).not.toContain('\u001b');
  });

  it('--json prints the entries as an array, newest first', async () => {
    const r = await q('list', '--json');
    expect(r.code).toBe(0);
    const arr = JSON.parse(r.stdout) as QuarantineEntry[];
    expect(Array.isArray(arr)).toBe(true);
    expect(arr.map((e) => e.id)).toEqual((await store.list()).map((e) => e.id));
    expect(arr.map((e) => e.id)).toEqual(
      arr
        .map((e) => e.id)
        .sort()
        .reverse(),
    );
    expect(arr[0]).toMatchObject({ mailFrom: 'orders@shop.example', notice: { status: 'suppressed' } });
  });

  it('a missing quarantine directory is named (and --json prints []); an empty one says so', async () => {
    const empty = writeConfig(baseConfig({ domains: DOMAINS }));
    const env = { CATCHALL_GUARD_DATA_DIR: empty.dataDir };
    const human = await cli(['quarantine', 'list', '--config', empty.configPath], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^no quarantine directory at .*\/data\/quarantine: nothing was quarantined there yet/);
    const json = await cli(['quarantine', 'list', '--json', '--config', empty.configPath], env);
    expect(JSON.parse(json.stdout)).toEqual([]);
    expect(existsSync(empty.dataDir)).toBe(false); // listing creates nothing
    mkdirSync(path.join(empty.dataDir, 'quarantine'), { recursive: true });
    const none = await cli(['quarantine', 'list', '--config', empty.configPath], env);
    expect(none).toMatchObject({ code: 0, stdout: 'the quarantine is empty\n' });
    rmSync(empty.dir, { recursive: true, force: true });
  });
});

describe('quarantine show', () => {
  it('prints the metadata readably', async () => {
    const id = await quarantineOverSmtp({ subject: 'Repair notice 4711' });
    const r = await q('show', id);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^id:\\s+${id}$`, 'm'));
    expect(r.stdout).toMatch(/^envelope from:\s+orders@shop\.example$/m);
    expect(r.stdout).toMatch(/^recipients:\s+jane\.doe@example\.test$/m);
    expect(r.stdout).toMatch(/^subject:\s+Repair notice 4711$/m);
    expect(r.stdout).toMatch(/^body stored:\s+yes$/m);
    expect(r.stdout).toMatch(/^notice:\s+suppressed, reason: notices-disabled/m);
  });

  it('--raw writes the stored .eml byte for byte; --json the metadata', async () => {
    const id = await quarantineOverSmtp({ subject: 'raw bytes' });
    const r = await q('show', id, '--raw');
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.equals(readFileSync(path.join(qdir, `${id}.eml`)))).toBe(true);
    expect(r.stdout).toMatch(/^Received: /);
    const j = await q('show', id, '--json');
    expect(JSON.parse(j.stdout)).toMatchObject({ id, subject: 'raw bytes' });
  });

  it('an unknown id → exit 1, "no such entry"', async () => {
    const r = await q('show', 'doesnotexist123');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no such entry');
    noStackTrace(r);
  });
});

describe('quarantine release', () => {
  it('delivers into the Maildir of the given known recipient, then deletes the entry', async () => {
    const id = await quarantineOverSmtp({ subject: 'release me' });
    const eml = readFileSync(path.join(qdir, `${id}.eml`));
    const r = await q('release', id, '--to', 'Alice@Example.test');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`released ${id} to alice@example.test`);
    expect(existsSync(path.join(qdir, `${id}.json`))).toBe(false);
    expect(existsSync(path.join(qdir, `${id}.eml`))).toBe(false);
    const newDir = path.join(t.dataDir, 'mail', 'example.test', 'alice', 'new');
    const delivered = readdirSync(newDir).map((f) => readFileSync(path.join(newDir, f)));
    expect(delivered.some((b) => b.equals(eml))).toBe(true);
  });

  it('a subaddress goes to its mailbox', async () => {
    const id = await quarantineOverSmtp();
    const r = await q('release', id, '--to', 'bob+found@example.test');
    expect(r.code).toBe(0);
    expect(readdirSync(path.join(t.dataDir, 'mail', 'example.test', 'bob', 'new'))).toHaveLength(1);
  });

  it('refuses a missing, malformed, unknown or foreign ADDRESS with exit 2 and keeps the entry', async () => {
    const id = await quarantineOverSmtp();
    for (const args of [
      [],
      ['--to', 'not-an-address'],
      ['--to', 'nobody@example.test'],
      ['--to', 'alice@elsewhere.test'],
      ['--to', 'a%b@example.test'],
    ]) {
      const r = await q('release', id, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/--to/);
      noStackTrace(r);
    }
    expect(existsSync(path.join(qdir, `${id}.json`))).toBe(true);
  });

  it('refuses an entry stored without its body (exit 1), and keeps it', async () => {
    const id = await plant({ receivedAt: new Date(), expiresAt: new Date(Date.now() + DAY), bodyStored: false });
    const r = await q('release', id, '--to', 'alice@example.test');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/headers only/);
    expect(existsSync(path.join(qdir, `${id}.json`))).toBe(true);
  });

  it('an unknown id → exit 1, "no such entry"', async () => {
    const r = await q('release', 'doesnotexist123', '--to', 'alice@example.test');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no such entry');
  });

  describe('through an upstream server', () => {
    let sink: UpstreamSink;
    let upstreamConfig: { dir: string; configPath: string };
    const viaUpstream = (...args: string[]): Promise<CliResult> =>
      cli(['quarantine', ...args, '--config', upstreamConfig.configPath], { CATCHALL_GUARD_DATA_DIR: t.dataDir });

    beforeAll(async () => {
      sink = await startSink('tempfail');
      upstreamConfig = writeConfig(
        baseConfig({
          domains: DOMAINS,
          delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: sink.port, timeout: '10s' } },
        }),
      );
    });
    afterAll(async () => {
      await sink.close();
      rmSync(upstreamConfig.dir, { recursive: true, force: true });
    });

    it('451 from upstream → exit 1, entry kept; once upstream accepts → delivered and deleted', async () => {
      const id = await quarantineOverSmtp({ subject: 'via upstream' });
      const refused = await viaUpstream('release', id, '--to', 'alice@example.test');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/temporarily/);
      expect(refused.stderr).toContain('451');
      expect(refused.stderr).toContain('kept');
      noStackTrace(refused);
      expect(existsSync(path.join(qdir, `${id}.json`))).toBe(true);
      expect(existsSync(path.join(qdir, `${id}.eml`))).toBe(true);

      sink.mode = 'accept';
      const eml = readFileSync(path.join(qdir, `${id}.eml`));
      const ok = await viaUpstream('release', id, '--to', 'alice@example.test');
      expect(ok.code).toBe(0);
      const [m] = await sink.waitForMessages(1);
      expect(m?.to).toEqual(['alice@example.test']);
      expect(m?.from).toBe('orders@shop.example');
      expect(m?.raw.toString('latin1').replace(/\r\n/g, '\n')).toBe(eml.toString('latin1').replace(/\r\n/g, '\n'));
      expect(existsSync(path.join(qdir, `${id}.json`))).toBe(false);
    });

    it('sender read as an address list: an entry from root,admin,x@attacker.test is released with one quoted sender, one RCPT', async () => {
      sink.mode = 'accept';
      sink.messages.length = 0;
      const id = await quarantineOverSmtp({ from: 'root,admin,x@attacker.test' });
      const ok = await viaUpstream('release', id, '--to', 'alice@example.test');
      expect(ok.code).toBe(0);
      const [m] = await sink.waitForMessages(1);
      expect(m?.from).toBe('"root,admin,x"@attacker.test');
      expect(m?.to).toEqual(['alice@example.test']);
    });

    it('a permanent refusal → exit 1 with the upstream reply, entry kept', async () => {
      sink.mode = 'reject';
      const id = await quarantineOverSmtp();
      const r = await viaUpstream('release', id, '--to', 'alice@example.test');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/refused: 550 5\.7\.1/);
      expect(existsSync(path.join(qdir, `${id}.json`))).toBe(true);
    });
  });
});

describe('the store gives release the stored message', () => {
  it('loadMessage: the .eml in memory, with its header block; null when there is none', async () => {
    const id = await plant({ receivedAt: new Date(), expiresAt: new Date(Date.now() + DAY), subject: 'load me' });
    const eml = readFileSync(path.join(qdir, `${id}.eml`));
    const m = await store.loadMessage(id);
    expect(m?.kind).toBe('memory');
    if (m?.kind !== 'memory') return;
    expect(m.data.equals(eml)).toBe(true);
    expect(m.size).toBe(eml.length);
    const end = eml.indexOf('\r\n\r\n') + 4;
    expect(m.headerEnd).toBe(end);
    expect(m.headerBlock.equals(eml.subarray(0, end))).toBe(true);
    expect(await store.loadMessage('doesnotexist123' as MessageId)).toBeNull();
  });

  it('loadMessage of a planted symbolic link: UnsafeEntryFileError, nothing read', async () => {
    const id = await plant({ receivedAt: new Date(), expiresAt: new Date(Date.now() + DAY) });
    const elsewhere = path.join(t.dir, `elsewhere-${id}`);
    writeFileSync(elsewhere, 'Subject: not ours\r\n\r\nsecret\r\n');
    rmSync(path.join(qdir, `${id}.eml`));
    symlinkSync(elsewhere, path.join(qdir, `${id}.eml`));
    await expect(store.loadMessage(id)).rejects.toBeInstanceOf(UnsafeEntryFileError);
    expect(await store.remove(id)).toBe(true);
    expect(readFileSync(elsewhere, 'utf8')).toContain('secret');
  });
});

describe('quarantine delete', () => {
  it('deletes one entry; deleting it again → exit 1, "no such entry"', async () => {
    const id = await quarantineOverSmtp();
    const r = await q('delete', id);
    expect(r).toMatchObject({ code: 0, stdout: `deleted ${id}\n` });
    expect(existsSync(path.join(qdir, `${id}.json`))).toBe(false);
    expect(existsSync(path.join(qdir, `${id}.eml`))).toBe(false);
    const again = await q('delete', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no such entry');
  });
});

describe('quarantine purge', () => {
  it('without --older-than deletes the expired entries only and prints the count', async () => {
    const now = Date.now();
    const expired = [
      await plant({ receivedAt: new Date(now - 20 * DAY), expiresAt: new Date(now - 6 * DAY) }),
      await plant({ receivedAt: new Date(now - 15 * DAY), expiresAt: new Date(now - DAY) }),
    ];
    const fresh = await plant({ receivedAt: new Date(now - 2 * DAY), expiresAt: new Date(now + 12 * DAY) });
    const r = await q('purge');
    expect(r).toMatchObject({ code: 0, stdout: 'purged 2 entries\n' });
    for (const id of expired) expect(existsSync(path.join(qdir, `${id}.json`))).toBe(false);
    expect(existsSync(path.join(qdir, `${fresh}.json`))).toBe(true);
    expect((await q('purge')).stdout).toBe('purged 0 entries\n');
  });

  it('--older-than DURATION deletes what was received before then, expired or not', async () => {
    const now = Date.now();
    const old = await plant({ receivedAt: new Date(now - 3 * DAY), expiresAt: new Date(now + 11 * DAY) });
    const recent = await plant({ receivedAt: new Date(now - 3_600_000), expiresAt: new Date(now + 13 * DAY) });
    const before = (await store.list()).filter((e) => Date.parse(e.receivedAt) <= now - 2 * DAY).length;
    const r = await q('purge', '--older-than', '2d');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`purged ${before} ${before === 1 ? 'entry' : 'entries'}\n`);
    expect(existsSync(path.join(qdir, `${old}.json`))).toBe(false);
    expect(existsSync(path.join(qdir, `${recent}.json`))).toBe(true);
  });

  it('a bad duration → exit 2, nothing deleted', async () => {
    const count = (await store.list()).length;
    const r = await q('purge', '--older-than', 'soon');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--older-than: invalid duration "soon"/);
    expect((await store.list()).length).toBe(count);
  });
});

describe('files planted in the quarantine directory are never read through (issue #9, item 7)', () => {
  let outside: string;
  let secret: string;
  const SECRET = 'root:SECRET-HASH-THAT-MUST-NOT-LEAK:19000:0:99999:7:::\n';
  const aliceNew = (): string => path.join(t.dataDir, 'mail', 'example.test', 'alice', 'new');
  const deliveredToAlice = (): string[] => (existsSync(aliceNew()) ? readdirSync(aliceNew()) : []);
  const fresh = (): Promise<string> =>
    plant({ receivedAt: new Date(), expiresAt: new Date(Date.now() + DAY), subject: 'planted-target' });

  beforeAll(() => {
    outside = mkdtempSync(path.join(tmpdir(), 'cg-planted-'));
    secret = path.join(outside, 'shadow');
    writeFileSync(secret, SECRET);
  });
  afterAll(() => {
    rmSync(outside, { recursive: true, force: true });
  });

  it('show --raw of an entry whose .eml is a symbolic link: exit 1 naming the entry, the link target never printed', async () => {
    const id = await fresh();
    rmSync(path.join(qdir, `${id}.eml`));
    symlinkSync(secret, path.join(qdir, `${id}.eml`));
    const r = await q('show', id, '--raw');
    expect(r.code).toBe(1);
    const [said, ...eventLines] = r.stderr.split('\n').filter(Boolean);
    expect(said).toBe(
      `catchall-guard: entry ${id}: ${id}.eml is a symbolic link, not a regular file; refusing to read it (nothing printed)`,
    );
    // the access was recorded before the read failed: the event says the show failed
    expect(eventLines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ event: 'quarantine', action: 'show', id, raw: true, outcome: 'failed' }),
    ]);
    expect(r.stdout).toBe('');
    noStackTrace(r);
  });

  it('release of an entry whose .eml is a symbolic link: exit 1, nothing linked into the Maildir, the entry kept', async () => {
    const id = await fresh();
    rmSync(path.join(qdir, `${id}.eml`));
    symlinkSync(secret, path.join(qdir, `${id}.eml`));
    const before = deliveredToAlice();
    const r = await q('release', id, '--to', 'alice@example.test');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`entry ${id}: ${id}.eml is a symbolic link, not a regular file`);
    expect(r.stderr).toContain(`nothing delivered, entry ${id} kept`);
    expect(r.stdout).toBe('');
    noStackTrace(r);
    expect(deliveredToAlice()).toEqual(before);
    expect(existsSync(path.join(qdir, `${id}.json`))).toBe(true);
    expect(lstatSync(path.join(qdir, `${id}.eml`)).isSymbolicLink()).toBe(true);
  });

  it('an entry whose .json is a symbolic link: show, show --json, show --raw and release refuse, list leaves it out and names it (exit 1)', async () => {
    const id = await fresh();
    // a complete entry elsewhere, with the same id: only its location differs
    const json = path.join(qdir, `${id}.json`);
    const elsewhere = path.join(outside, `${id}.json`);
    writeFileSync(elsewhere, readFileSync(json, 'utf8').replace('planted-target', 'SECRET-SUBJECT'));
    rmSync(json);
    symlinkSync(elsewhere, json);
    const before = deliveredToAlice();
    for (const args of [
      ['show', id],
      ['show', id, '--json'],
      ['show', id, '--raw'],
      ['release', id, '--to', 'alice@example.test'],
    ]) {
      const r = await q(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(
        `entry ${id}: ${id}.json is a symbolic link, not a regular file; refusing to read it`,
      );
      expect(r.stdout).toBe('');
      noStackTrace(r);
    }
    expect(deliveredToAlice()).toEqual(before);
    const list = await q('list', '--json');
    // an entry left out of the listing is said, not skipped in silence
    expect(list.code).toBe(1);
    expect(list.stderr).toContain(`could not be read: ${json} (not-a-regular-file)`);
    expect(list.stdout).not.toContain('SECRET-SUBJECT');
    expect((JSON.parse(list.stdout) as QuarantineEntry[]).map((e) => e.id)).not.toContain(id);
    // the planted link goes: the listings of later tests are of entries only
    rmSync(json);
  });

  it('a FIFO in place of the .eml: show --raw refuses at once instead of waiting for a writer', async () => {
    const id = await fresh();
    rmSync(path.join(qdir, `${id}.eml`));
    execFileSync('mkfifo', [path.join(qdir, `${id}.eml`)]);
    const r = await q('show', id, '--raw');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`entry ${id}: ${id}.eml is a FIFO, not a regular file`);
    expect(r.stdout).toBe('');
    noStackTrace(r);
  }, 15_000);
});

describe('bidi and control characters in addresses reach the terminal escaped (issue #9, item 11)', () => {
  // U+202E turns `\u202egro.knab@c.test` into what reads as `c.test@bank.org`; U+009B is CSI, an escape sequence in one character
  const sender = '\u202egro.knab@c.test';
  const recipients = ['\u202eenaj@example.test', '\u009b2Jx@example.test'];
  let id: string;
  beforeAll(async () => {
    id = await plant({
      receivedAt: new Date(),
      expiresAt: new Date(Date.now() + DAY),
      subject: 'bidi',
      mailFrom: sender,
      recipients,
    });
  });
  const raw = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f]/;

  it('quarantine list: <U+202E> and <U+009B> instead of the raw characters', async () => {
    const r = await q('list');
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith(id)) ?? '';
    // the sender's and the first recipient's (columns narrower than a cell keep at least 12 characters)
    expect(line).toContain('<U+202E>gro');
    expect(line.match(/<U\+202E>/g)).toHaveLength(2);
    expect(r.stdout).not.toMatch(raw);
  });

  it('quarantine show: the metadata with visible escapes', async () => {
    const r = await q('show', id);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^envelope from:\s+<U\+202E>gro\.knab@c\.test$/m);
    expect(r.stdout).toMatch(/^recipients:\s+<U\+202E>enaj@example\.test, <U\+009B>2Jx@example\.test$/m);
    expect(r.stdout).not.toMatch(raw);
  });

  it('--json: \\u202e and \\u009b escapes, the same strings once parsed', async () => {
    for (const args of [
      ['list', '--json'],
      ['show', id, '--json'],
    ]) {
      const r = await q(...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).not.toMatch(raw);
      expect(r.stdout).toContain('"\\u202egro.knab@c.test"');
      expect(r.stdout).toContain('"\\u009b2Jx@example.test"');
      const parsed = JSON.parse(r.stdout) as QuarantineEntry | QuarantineEntry[];
      const entry = Array.isArray(parsed) ? parsed.find((e) => e.id === id) : parsed;
      expect(entry).toMatchObject({ mailFrom: sender, recipients });
    }
  });
});

describe('ids are checked before they touch the file system', () => {
  it.each(['../x', 'a/b', '..', '.', 'x.json', '../quarantine/../x', '%2e%2e', 'x y', '', `a${'b'.repeat(64)}`])(
    'refuses %j with exit 2 and touches nothing',
    async (bad) => {
      // a complete, valid entry outside the quarantine directory, where `../x` would point
      const outside = path.join(t.dataDir, 'x');
      mkdirSync(t.dataDir, { recursive: true });
      const planted = JSON.stringify({ ...(await store.list())[0], id: 'x' });
      writeFileSync(`${outside}.json`, planted);
      writeFileSync(`${outside}.eml`, 'Subject: outside\r\n\r\nkeep me\r\n');
      const entriesBefore = readdirSync(qdir).sort();
      const aliceNew = path.join(t.dataDir, 'mail', 'example.test', 'alice', 'new');
      const delivered = (): number => (existsSync(aliceNew) ? readdirSync(aliceNew).length : 0);
      const deliveredBefore = delivered();
      const commands = [
        ['show', bad],
        ['delete', bad],
        ...(bad === '../x'
          ? [
              ['show', bad, '--raw'],
              ['release', bad, '--to', 'alice@example.test'],
            ]
          : []),
      ];
      const results = await Promise.all(commands.map((args) => q(...args)));
      results.forEach((r, i) => {
        expect(r.code, commands[i]?.join(' ')).toBe(2);
        expect(r.stderr).toMatch(/invalid id|takes one ID/);
        expect(r.stdout).toBe('');
        noStackTrace(r);
      });
      expect(readFileSync(`${outside}.json`, 'utf8')).toBe(planted);
      expect(readFileSync(`${outside}.eml`, 'utf8')).toBe('Subject: outside\r\n\r\nkeep me\r\n');
      expect(readdirSync(qdir).sort()).toEqual(entriesBefore);
      expect(delivered()).toBe(deliveredBefore);
    },
  );
});

describe('quarantine usage', () => {
  it.each([[[]], [['frobnicate']], [['list', 'extra']], [['show']], [['show', 'a', 'b']], [['purge', '2d']]])(
    '%j → exit 2 with the usage',
    async (args) => {
      const r = await q(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('usage: catchall-guard quarantine');
      noStackTrace(r);
    },
  );

  it('an invalid configuration → exit 2 naming the key', async () => {
    const bad = writeConfig({ ...baseConfig({ domains: DOMAINS }), quarantine: { retention: 'forever' } });
    const r = await cli(['quarantine', 'list', '--config', bad.configPath], { CATCHALL_GUARD_DATA_DIR: bad.dataDir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('quarantine.retention');
    noStackTrace(r);
    rmSync(bad.dir, { recursive: true, force: true });
  });
});
