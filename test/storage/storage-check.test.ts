// A server that cannot store mail must not look healthy (#15). The built `serve` refuses to start when a
// data directory is not writable, not a directory, on a read-only mount, or on a file system without room
// for one message of maxMessageSize: exit 1, the path and the fix on stderr. At run time a full or
// read-only file system turns MAIL FROM into 452 4.3.1 / 451 4.3.0, /readyz into 503 and `probe` into
// exit 1, until it is fixed. A SIGHUP that would move storage somewhere unusable is refused.
// Real directories, real mounts (tmpfs, as root, like full-disk.test.ts), the real CLI.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spoolDirOf } from '../../src/storage/spool-dir.js';
import { buildDist, MAIN_JS, ROOT } from '../helpers/build-dist.js';
import { cleanEnv, runCli } from '../helpers/cli.js';
import { spawnServer } from '../helpers/child-server.js';
import { RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { createApp, type App } from '../../src/app.js';
import { pollUntil } from '../helpers/files.js';
import { captureEvents, type CapturedEvents } from '../helpers/log-capture.js';
import { baseConfig, loadTestConfig, writeConfig } from '../helpers/start-app.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** Who the server runs as when the test is root: root writes anywhere, so the Docker case needs another user. */
const NOBODY = 65534;

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups.reverse()) c();
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function mountTmpfs(options: string): string {
  const dir = tempDir('cg-storage-mnt-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  cleanups.push(() => execFileSync('umount', ['-l', dir]));
  return dir;
}

const free = (dir: string): number => {
  const st = statfsSync(dir);
  return Number(st.bavail) * Number(st.bsize);
};

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `serve` as a child; it must exit on its own (a server that starts is killed after 15 s and fails the test). */
function serveUntilExit(configPath: string, env: Record<string, string>, uid?: number): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN_JS, 'serve', '--config', configPath], {
      cwd: ROOT,
      env: { ...cleanEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const logLines = (stdout: string): Record<string, unknown>[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function mailFrom(port: number): Promise<string> {
  const { client } = await RawSmtp.connect(port);
  try {
    expect((await client.cmd('EHLO client.test')).code).toBe(250);
    return (await client.cmd('MAIL FROM:<sender@client.test>')).line;
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  await buildDist();
}, 200_000);

describe('serve refuses to start when it cannot store mail', () => {
  it(`a data directory the server's user cannot write (${isRoot ? `root: served as uid ${NOBODY}, the Docker bind-mount case` : 'chmod 0500'}): exit 1 naming the path and the chown`, async () => {
    const { dir, configPath } = writeConfig(baseConfig());
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dataDir = path.join(tempDir('cg-storage-ro-'), 'data');
    mkdirSync(dataDir, { mode: isRoot ? 0o755 : 0o500 });
    if (isRoot) {
      // the unprivileged user must read the config, as in the container; it owns nothing of the data
      chmodSync(dir, 0o755);
      chmodSync(configPath, 0o644);
      chmodSync(path.dirname(dataDir), 0o755);
    } else {
      cleanups.push(() => chmodSync(dataDir, 0o700));
    }
    const uid = isRoot ? NOBODY : (process.getuid?.() ?? 0);
    const gid = isRoot ? NOBODY : (process.getgid?.() ?? 0);
    const r = await serveUntilExit(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir }, isRoot ? NOBODY : undefined);
    expect(r.code).toBe(1);
    const spool = spoolDirOf(loadTestConfig(configPath, dataDir));
    // one line per directory, each naming the path and the command that fixes it
    const fix = `fix: chown -R ${uid}:${gid} ${dataDir} (on the host, for a bind mount)`;
    expect(r.stderr).toContain(
      `catchall-guard: cannot store mail: ${dataDir} (data, CATCHALL_GUARD_DATA_DIR) is not writable [EACCES]; ${fix}`,
    );
    expect(r.stderr).toContain(
      `catchall-guard: cannot store mail: ${spool} (spool, CATCHALL_GUARD_DATA_DIR) is not writable [EACCES]; ${fix}`,
    );
    expect(r.stderr).toContain(
      `catchall-guard: cannot store mail: ${path.join(dataDir, 'quarantine')} (quarantine, quarantine.path) is not writable [EACCES]; ${fix}`,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const lines = logLines(r.stdout);
    expect(lines.some((l) => l['event'] === 'listening')).toBe(false);
    expect(lines.filter((l) => l['event'] === 'storage')).toContainEqual(
      expect.objectContaining({
        ok: false,
        reason: 'storage-not-writable',
        path: spool,
        problem: 'not-writable',
        code: 'EACCES',
        level: 'error',
      }),
    );
  });

  it('a data directory under a regular file (ENOTDIR, whoever runs it): exit 1 naming the file', async () => {
    const { dir, configPath } = writeConfig(baseConfig());
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'not-a-dir');
    writeFileSync(file, '');
    const dataDir = path.join(file, 'data');
    const r = await serveUntilExit(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `catchall-guard: cannot store mail: ${path.join(dataDir, 'mail')} (maildir, delivery.maildir.path) cannot be a directory [ENOTDIR]; fix: ${file} is not a directory: move it away, or set delivery.maildir.path elsewhere`,
    );
  });

  it('root only: a read-only mount (EROFS), and a file system smaller than one message of maxMessageSize', async () => {
    // CI runs as root; elsewhere this fails loudly instead of passing by skipping
    if (!isRoot) throw new Error('storage mount tests need root: mounting a tmpfs needs root');
    const ro = mountTmpfs('size=4m,mode=0755,ro');
    const { dir, configPath } = writeConfig(baseConfig());
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const a = await serveUntilExit(configPath, { CATCHALL_GUARD_DATA_DIR: ro });
    expect(a.code).toBe(1);
    expect(a.stderr).toContain(
      `catchall-guard: cannot store mail: ${path.join(ro, 'quarantine')} (quarantine, quarantine.path) is on a read-only file system [EROFS]; fix: remount the file system of ${ro} read-write`,
    );

    // 1 MiB of tmpfs, 2 MB messages: refused before the first session, with how much is missing
    const small = mountTmpfs('size=1m,mode=0755');
    const big = writeConfig(baseConfig({ server: { maxMessageSize: '2MB' } }));
    cleanups.push(() => rmSync(big.dir, { recursive: true, force: true }));
    const b = await serveUntilExit(big.configPath, { CATCHALL_GUARD_DATA_DIR: small });
    expect(b.code).toBe(1);
    // the four directories share one full disk: it is named once, by the data directory
    expect(b.stderr).toMatch(
      new RegExp(
        `^catchall-guard: cannot store mail: ${small} \\(data, CATCHALL_GUARD_DATA_DIR\\) has too little free space \\(\\d+ KiB free, 3 MiB needed for one message of server.maxMessageSize\\) \\[ENOSPC\\]; fix: free at least [\\d.]+ MiB more on the file system of ${small}, or lower server.maxMessageSize\n$`,
      ),
    );
    const storage = logLines(b.stdout).filter((l) => l['event'] === 'storage');
    expect(storage).toContainEqual(
      expect.objectContaining({ ok: false, reason: 'storage-full', code: 'ENOSPC', neededBytes: 3 * 1024 * 1024 }),
    );
  });
});

describe('at run time (root only: a 4 MiB tmpfs, 1 MB messages)', () => {
  interface Running {
    readonly app: App;
    readonly port: number;
    readonly configPath: string;
    readonly events: CapturedEvents;
  }
  let t: Running | null = null;
  let mnt = '';
  afterAll(async () => {
    await t?.app.stop(2000);
  });

  it('full: MAIL FROM 452 4.3.1, /readyz 503, probe exit 1, a storage event; room again: 250 and ready', async () => {
    if (!isRoot) throw new Error('storage run-time tests need root: mounting a tmpfs needs root');
    mnt = mountTmpfs('size=4m,mode=0700');
    const dataDir = path.join(mnt, 'data');
    const { dir, configPath } = writeConfig(
      baseConfig({
        server: { maxMessageSize: '1MB' },
        http: { listen: { host: '127.0.0.1', port: 0 } },
        domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
      }),
    );
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const events = captureEvents();
    const created = createApp(loadTestConfig(configPath, dataDir), {
      events: events.sink,
      storageCheck: { intervalMs: 100 },
    });
    t = { app: created, port: (await created.start()).port, configPath, events };
    const app = t;
    const httpPort = app.app.httpAddress()?.port ?? 0;
    const probe = (): ReturnType<typeof runCli> =>
      runCli(['probe', '--config', app.configPath], {
        env: { CATCHALL_GUARD_PORT: String(app.port), CATCHALL_GUARD_DATA_DIR: dataDir },
      });
    expect(await mailFrom(app.port)).toBe('250 2.1.0 Accepted');
    expect((await get(httpPort, '/readyz')).status).toBe(200);
    expect((await probe()).code).toBe(0);

    // leave 1 MiB: less than one 1 MB message plus the 1 MiB reserve
    const filler = path.join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(free(mnt) - 1024 * 1024));
    const down = await app.events.waitFor('storage', (e) => !e.ok, 5_000);
    expect(down).toMatchObject({ ok: false, reason: 'storage-full', problem: 'no-space', code: 'ENOSPC' });
    expect(down.path?.startsWith(dataDir)).toBe(true);
    expect(await mailFrom(app.port)).toBe('452 4.3.1 insufficient system storage, try again later [storage-full]');
    expect(app.events.of('mail').at(-1)).toMatchObject({
      from: 'sender@client.test',
      code: 452,
      reason: 'storage-full',
    });
    expect(await get(httpPort, '/readyz')).toEqual({ status: 503, body: 'not ready\n' });
    expect((await get(httpPort, '/metrics')).body).toMatch(/^catchall_guard_storage_failing 1$/m);
    const p = await probe();
    expect(p.code).toBe(1);
    expect(p.stderr).toContain(
      `catchall-guard: probe failed: cannot store mail: ${dataDir} (data, CATCHALL_GUARD_DATA_DIR) has too little free space`,
    );
    // liveness is not readiness: the process runs
    expect((await get(httpPort, '/healthz')).status).toBe(200);

    rmSync(filler);
    expect(await app.events.waitFor('storage', (e) => e.ok, 5_000)).toEqual({ event: 'storage', ok: true });
    expect(await mailFrom(app.port)).toBe('250 2.1.0 Accepted');
    const sent = await sendMessage(app.port, {
      from: 'sender@client.test',
      to: ['alice@example.test'],
      raw: simpleMessage({ subject: 'room again' }),
    });
    expect(sent.response).toMatch(/^250 2\.0\.0 Ok: queued as /);
    expect((await get(httpPort, '/readyz')).status).toBe(200);
    expect((await get(httpPort, '/metrics')).body).toMatch(/^catchall_guard_storage_failing 0$/m);
    expect((await probe()).code).toBe(0);
  });

  it('remounted read-only: MAIL FROM 451 4.3.0 [storage-not-writable] until it is read-write again', async () => {
    if (!isRoot || !t) throw new Error('needs root and the server of the test before (a tmpfs it mounted)');
    const app = t;
    const before = app.events.of('storage').length;
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    try {
      const down = await app.events.waitFor('storage', (e) => !e.ok && e.code === 'EROFS', 5_000);
      expect(down).toMatchObject({ reason: 'storage-not-writable', problem: 'read-only' });
      expect(down.fix).toContain('remount');
      expect(await mailFrom(app.port)).toBe(
        '451 4.3.0 local error in processing, try again later [storage-not-writable]',
      );
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', mnt]);
    }
    await pollUntil(
      () =>
        app.events
          .of('storage')
          .slice(before)
          .some((e) => e.ok)
          ? true
          : undefined,
      'storage ok again',
      5_000,
    );
    expect(await mailFrom(app.port)).toBe('250 2.1.0 Accepted');
  });
});

describe('SIGHUP', () => {
  it('a reload that moves storage somewhere unusable is refused, names the path and the fix, and the running config stays', async () => {
    const raw = baseConfig({
      domains: [{ name: 'example.test', unknownRecipients: 'quarantine', recipients: ['alice'] }],
    });
    const { dir, configPath } = writeConfig(raw);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dataDir = path.join(dir, 'data');
    const server = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir });
    cleanups.push(() => server.proc.kill('SIGKILL'));
    const blocker = path.join(dir, 'blocker');
    writeFileSync(blocker, '');
    const bad = path.join(blocker, 'quarantine');
    writeFileSync(configPath, stringify({ ...raw, quarantine: { path: bad, retention: '14d' } }));
    server.proc.kill('SIGHUP');
    const refused = await server.waitForLine((l) => l['event'] === 'reload');
    expect(refused).toMatchObject({ ok: false, what: 'config', level: 'error' });
    expect(refused['error']).toBe(
      `storage: ${bad} (quarantine, quarantine.path) cannot be a directory [ENOTDIR]; fix: ${blocker} is not a directory: move it away, or set quarantine.path elsewhere`,
    );
    // still the old quarantine: an unknown recipient is stored there
    const sent = await sendMessage(server.port, {
      from: 'sender@client.test',
      to: ['typo@example.test'],
      raw: simpleMessage({ subject: 'still here' }),
    });
    expect(sent.response).toMatch(/^250 2\.0\.0 Ok: queued as /);

    // a good one goes through
    writeFileSync(configPath, stringify({ ...raw, quarantine: { path: 'quarantine2', retention: '14d' } }));
    server.proc.kill('SIGHUP');
    await server.waitForLine((l) => l['event'] === 'reload' && l['ok'] === true);
    server.proc.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});
