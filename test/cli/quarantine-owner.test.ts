// The quarantine belongs to the server's user (#14 review): an operator running `quarantine show` as
// root must not turn an entry into a root-owned file the server (here uid 65534, as the systemd unit's
// DynamicUser or the container's user) can no longer read, and an entry file the server cannot read is
// reported by list, purge and the server's own retention, never skipped in silence. The server and
// the unprivileged commands run through setpriv; the test must run as root (CI does) and fails when
// setpriv is missing.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, MAIN_JS } from '../helpers/build-dist.js';
import { cleanEnv, runCli, type CliResult } from '../helpers/cli.js';
import { queuedId } from '../helpers/files.js';
import { sendVerbatim, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig, writeConfig } from '../helpers/start-app.js';

const SETPRIV = '/usr/bin/setpriv';
const NOBODY = 65534;
const AS_NOBODY = [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
const dirs: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  expect(process.getuid?.(), 'this test switches to uid 65534 with setpriv and must run as root (CI does)').toBe(0);
  expect(existsSync(SETPRIV), `${SETPRIV} (util-linux) is needed to run as an unprivileged user`).toBe(true);
  await buildDist();
}, 180_000);

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A config whose data directory belongs to uid 65534, as a service's would. */
function serviceSetup(): { configPath: string; qdir: string } {
  const c = writeConfig(
    baseConfig({
      domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
    }),
  );
  dirs.push(c.dir);
  chmodSync(c.dir, 0o755);
  mkdirSync(c.dataDir);
  writeFileSync(c.configPath, `dataDir: data\n${readFileSync(c.configPath, 'utf8')}`);
  chownSync(c.dataDir, NOBODY, NOBODY);
  return { configPath: c.configPath, qdir: path.join(c.dataDir, 'quarantine') };
}

interface Served {
  readonly lines: () => Record<string, unknown>[];
  waitFor(pred: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** `serve` as uid 65534; its JSON lines are collected from stdout. */
function serveAsNobody(configPath: string): Served {
  const child = spawn(SETPRIV, [...AS_NOBODY, process.execPath, MAIN_JS, 'serve', '--config', configPath], {
    cwd: '/',
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    lines,
    async waitFor(pred, ms = 15_000) {
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
        const hit = lines().find(pred);
        if (hit) return hit;
        if (child.exitCode !== null) break;
      }
      throw new Error(`no such line from the server; stdout: ${out}\nstderr: ${err}`);
    },
    async stop() {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGTERM');
      await exited;
    },
  };
}

/** A CLI command as uid 65534 (the service user), through setpriv. */
const cliAsNobody = (args: readonly string[]): Promise<CliResult> =>
  runCli(args, { wrapper: [SETPRIV, ...AS_NOBODY], cwd: '/' });

async function quarantineOne(s: Served): Promise<string> {
  const listening = await s.waitFor((l) => l['event'] === 'listening');
  const r = await sendVerbatim(listening['port'] as number, {
    from: 'orders@shop.example',
    to: ['jane.doe@example.test'],
    raw: simpleMessage({ subject: 'Your order', body: 'for jane' }),
  });
  expect(r.code).toBe(250);
  return queuedId(r.response);
}

const owner = (file: string): string => {
  const st = statSync(file);
  return `${st.uid}:${st.gid} ${(st.mode & 0o777).toString(8)}`;
};

describe('an entry the server wrote, read by root', () => {
  it('keeps its owner through show (the access record): the server user still lists it and purges it', async () => {
    const { configPath, qdir } = serviceSetup();
    const s = serveAsNobody(configPath);
    let id: string;
    try {
      id = await quarantineOne(s);
    } finally {
      await s.stop();
    }
    const json = path.join(qdir, `${id}.json`);
    expect(owner(json)).toBe(`${NOBODY}:${NOBODY} 600`);
    const shown = await runCli(['quarantine', 'show', id, '--config', configPath], { env: {} });
    // stderr holds the quarantine event of the read, and no complaint
    expect(shown.stderr).not.toContain('catchall-guard:');
    expect(shown.stderr).toContain('"action":"show"');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('show by root');
    // rewritten by root, handed back to the owner of the file it replaced
    expect(owner(json)).toBe(`${NOBODY}:${NOBODY} 600`);
    // nothing root-owned is left in the directory (the entry lock included)
    for (const f of ['', `${id}.eml`]) expect(owner(path.join(qdir, f)).split(' ')[0]).toBe(`${NOBODY}:${NOBODY}`);

    const listed = await cliAsNobody(['quarantine', 'list', '--config', configPath]);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('1× (last: root)');
    const purged = await cliAsNobody(['quarantine', 'purge', '--older-than', '0s', '--config', configPath]);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toBe('purged 1 entry\n');
    expect(existsSync(json)).toBe(false);
    expect(existsSync(path.join(qdir, `${id}.eml`))).toBe(false);
  }, 60_000);
});

describe('an entry file the server user cannot read', () => {
  it('is named by list and purge (exit 1) and by the server as an error event, never skipped in silence', async () => {
    const { configPath, qdir } = serviceSetup();
    const s = serveAsNobody(configPath);
    let readable: string;
    let locked: string;
    try {
      readable = await quarantineOne(s);
      locked = await quarantineOne(s);
    } finally {
      await s.stop();
    }
    // what a rewrite by root left before the fix: root:root 0600
    const lockedJson = path.join(qdir, `${locked}.json`);
    chownSync(lockedJson, 0, 0);

    const listed = await cliAsNobody(['quarantine', 'list', '--config', configPath]);
    expect(listed.code).toBe(1);
    expect(listed.stdout).toContain(readable);
    expect(listed.stderr).toBe(`catchall-guard: 1 entry could not be read: ${lockedJson} (EACCES)\n`);
    const asJson = await cliAsNobody(['quarantine', 'list', '--json', '--config', configPath]);
    expect(asJson.code).toBe(1);
    expect((JSON.parse(asJson.stdout) as { id: string }[]).map((e) => e.id)).toEqual([readable]);
    expect(asJson.stderr).toContain(`1 entry could not be read: ${lockedJson} (EACCES)`);

    const purged = await cliAsNobody(['quarantine', 'purge', '--older-than', '0s', '--config', configPath]);
    expect(purged.code).toBe(1);
    expect(purged.stdout).toBe('purged 1 entry\n');
    expect(purged.stderr).toContain(`catchall-guard: 1 entry could not be read: ${lockedJson} (EACCES)\n`);
    const event = purged.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e['event'] === 'quarantine');
    expect(event).toMatchObject({
      action: 'purge',
      outcome: 'ok',
      deleted: 1,
      ids: [readable],
      unreadable: [lockedJson],
    });
    expect(existsSync(lockedJson)).toBe(true);

    // the server's retention at start says the same, as an error event
    const again = serveAsNobody(configPath);
    try {
      const err = await again.waitFor((l) => l['event'] === 'error' && l['where'] === 'purge');
      expect(err).toMatchObject({ reason: 'quarantine-unreadable' });
      expect(err['error']).toBe(`1 entry could not be read: ${lockedJson} (EACCES)`);
    } finally {
      await again.stop();
    }
  }, 60_000);
});

describe('a message released by root', () => {
  it('lands in the Maildir as the server user’s, and so do the directories the release created', async () => {
    const { configPath, qdir } = serviceSetup();
    const dataDir = path.dirname(qdir);
    const s = serveAsNobody(configPath);
    let id: string;
    try {
      id = await quarantineOne(s);
    } finally {
      await s.stop();
    }
    // nothing was ever delivered to alice: the release creates her mailbox (and its domain's directory)
    expect(existsSync(path.join(dataDir, 'mail', 'example.test'))).toBe(false);
    const released = await runCli(['quarantine', 'release', id, '--to', 'alice@example.test', '--config', configPath], {
      env: {},
    });
    expect(released.code, released.stderr).toBe(0);
    const mailbox = path.join(dataDir, 'mail', 'example.test', 'alice');
    for (const d of [
      'mail',
      'mail/example.test',
      'mail/example.test/alice',
      ...['tmp', 'new', 'cur'].map((x) => `mail/example.test/alice/${x}`),
    ])
      expect(owner(path.join(dataDir, d)).split(' ')[0], d).toBe(`${NOBODY}:${NOBODY}`);
    const delivered = readdirSync(path.join(mailbox, 'new'));
    expect(delivered).toHaveLength(1);
    expect(owner(path.join(mailbox, 'new', delivered[0] ?? ''))).toBe(`${NOBODY}:${NOBODY} 600`);
    expect(readFileSync(path.join(mailbox, 'new', delivered[0] ?? ''), 'utf8')).toContain('for jane');

    // the server, as its own user, goes on delivering to that mailbox
    const again = serveAsNobody(configPath);
    try {
      const listening = await again.waitFor((l) => l['event'] === 'listening');
      const r = await sendVerbatim(listening['port'] as number, {
        from: 'friend@client.example',
        to: ['alice@example.test'],
        raw: simpleMessage({ subject: 'hello', body: 'hi alice' }),
      });
      expect(r.code).toBe(250);
    } finally {
      await again.stop();
    }
    expect(readdirSync(path.join(mailbox, 'new'))).toHaveLength(2);
  }, 60_000);
});
