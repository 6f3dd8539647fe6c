// storage/preflight and storage/health: the pure judgements as tables, the check against real directories
// (a path under a regular file, an impossible free-space need), and the monitor's state changes and events.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStorageHealth } from '../../src/storage/health.js';
import {
  checkStorage,
  describeProblem,
  failureReason,
  fixFor,
  newProblems,
  problemKindOf,
  reasonOf,
  storageDirs,
  storageNeed,
  STORAGE_RESERVE_BYTES,
  type StorageDir,
  type StorageProblem,
} from '../../src/storage/preflight.js';
import { spoolDirOf } from '../../src/storage/spool-dir.js';
import { captureEvents } from '../helpers/log-capture.js';
import { baseConfig, loadTestConfig, writeConfig } from '../helpers/start-app.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'cg-preflight-'));
  dirs.push(d);
  return d;
}

const quarantineDir = (p: string): StorageDir => ({ path: p, role: 'quarantine', key: 'quarantine.path' });

function problem(over: Partial<StorageProblem> = {}): StorageProblem {
  return {
    path: '/data/quarantine',
    role: 'quarantine',
    key: 'quarantine.path',
    problem: 'not-writable',
    code: 'EACCES',
    reason: 'storage-not-writable',
    fix: 'x',
    ...over,
  };
}

describe('storage problems, judged', () => {
  it.each([
    ['EACCES', 'not-writable', 'storage-not-writable'],
    ['EPERM', 'not-writable', 'storage-not-writable'],
    ['EROFS', 'read-only', 'storage-not-writable'],
    ['ENOTDIR', 'not-a-directory', 'storage-not-writable'],
    ['EEXIST', 'not-a-directory', 'storage-not-writable'],
    ['ENOSPC', 'no-space', 'storage-full'],
    ['EDQUOT', 'no-space', 'storage-full'],
    ['EIO', 'unusable', 'storage-not-writable'],
    ['ETIMEDOUT', 'unusable', 'storage-not-writable'],
  ] as const)('%s is %s (%s)', (code, kind, reason) => {
    expect(problemKindOf(code)).toBe(kind);
    expect(reasonOf(kind)).toBe(reason);
  });

  it.each([
    [[], null],
    [[problem({ problem: 'no-space', reason: 'storage-full' })], 'storage-full'],
    [[problem()], 'storage-not-writable'],
    // a directory we cannot write at all is the worse news, whatever else is full
    [
      [problem({ problem: 'no-space', reason: 'storage-full' }), problem({ path: '/data/mail' })],
      'storage-not-writable',
    ],
  ] as const)('MAIL FROM reason for %j: %s', (problems, reason) => {
    expect(failureReason(problems)).toBe(reason);
  });

  const dir: StorageDir = { path: '/data/spool/mx1', role: 'spool', key: 'CATCHALL_GUARD_DATA_DIR' };
  it.each([
    [
      { kind: 'not-writable', code: 'EACCES', target: '/data', uid: 1000, gid: 1000 },
      'chown -R 1000:1000 /data (on the host, for a bind mount), or set CATCHALL_GUARD_DATA_DIR to a writable directory',
    ],
    [
      { kind: 'not-writable', code: 'EACCES', target: '/data', uid: null, gid: null },
      'make /data writable for the user the server runs as',
    ],
    [
      { kind: 'read-only', code: 'EROFS', target: '/data/spool/mx1', uid: 0, gid: 0 },
      'remount the file system of /data/spool/mx1 read-write (a read-only volume or mount), or set CATCHALL_GUARD_DATA_DIR elsewhere',
    ],
    [
      { kind: 'not-a-directory', code: 'ENOTDIR', target: '/data', uid: 0, gid: 0 },
      '/data is not a directory: move it away, or set CATCHALL_GUARD_DATA_DIR elsewhere',
    ],
    [
      {
        kind: 'no-space',
        code: 'ENOSPC',
        target: '/data/spool/mx1',
        uid: 0,
        gid: 0,
        freeBytes: 1024 * 1024,
        neededBytes: 3 * 1024 * 1024,
      },
      'free at least 2 MiB more on the file system of /data/spool/mx1, or lower server.maxMessageSize',
    ],
    [
      { kind: 'unusable', code: 'EIO', target: '/data/spool/mx1', uid: 0, gid: 0 },
      'check the file system of /data/spool/mx1 (EIO)',
    ],
  ] as const)('fix for %j', (facts, fix) => {
    expect(fixFor({ ...facts, dir })).toBe(fix);
  });

  it('describes a problem with its path, role, key, errno and fix on one line', () => {
    expect(describeProblem(problem({ fix: 'chown -R 1000:1000 /data' }))).toBe(
      '/data/quarantine (quarantine, quarantine.path) is not writable [EACCES]; fix: chown -R 1000:1000 /data',
    );
    expect(
      describeProblem(
        problem({
          problem: 'no-space',
          code: 'ENOSPC',
          freeBytes: 512 * 1024,
          neededBytes: 26 * 1024 * 1024,
          fix: 'f',
        }),
      ),
    ).toBe(
      '/data/quarantine (quarantine, quarantine.path) has too little free space (512 KiB free, 26 MiB needed for one message of server.maxMessageSize) [ENOSPC]; fix: f',
    );
  });

  it.each([
    ['nothing wrong before or after', [], [], 0],
    ['a new unwritable directory', [problem({ path: '/new' })], [], 1],
    ['the disk was full already: not worse', [problem({ problem: 'no-space' })], [problem({ problem: 'no-space' })], 0],
    ['full before, unwritable after', [problem()], [problem({ problem: 'no-space' })], 1],
    ['a problem that goes away', [], [problem()], 0],
  ] as const)('a reload is worse when it adds a problem: %s', (_name, next, current, worse) => {
    expect(newProblems(next, current)).toHaveLength(worse);
  });

  it('one message of maxMessageSize plus the reserve', () => {
    expect(STORAGE_RESERVE_BYTES).toBe(1024 * 1024);
    expect(storageNeed(25 * 1024 * 1024)).toBe(26 * 1024 * 1024);
  });

  it('the directories of a config: the data directory, spool, Maildir root (maildir delivery only), quarantine', () => {
    const { dir: cfgDir, configPath, dataDir } = writeConfig(baseConfig());
    dirs.push(cfgDir);
    const maildir = loadTestConfig(configPath, dataDir);
    expect(storageDirs(maildir)).toEqual([
      { path: dataDir, role: 'data', key: 'CATCHALL_GUARD_DATA_DIR' },
      { path: spoolDirOf(maildir), role: 'spool', key: 'CATCHALL_GUARD_DATA_DIR' },
      { path: path.join(dataDir, 'mail'), role: 'maildir', key: 'delivery.maildir.path' },
      { path: path.join(dataDir, 'quarantine'), role: 'quarantine', key: 'quarantine.path' },
    ]);
    expect(path.dirname(path.dirname(spoolDirOf(maildir)))).toBe(dataDir);
    const up = writeConfig(baseConfig({ delivery: { type: 'smtp', smtp: { host: '127.0.0.1', port: 2526 } } }));
    dirs.push(up.dir);
    expect(storageDirs(loadTestConfig(up.configPath, up.dataDir)).map((d) => d.role)).toEqual([
      'data',
      'spool',
      'quarantine',
    ]);
  });
});

describe('checkStorage on real directories', () => {
  it('creates a missing directory 0700 and leaves no file behind, with or without the test write', async () => {
    const root = tempDir();
    const d = path.join(root, 'a', 'quarantine');
    expect(await checkStorage([quarantineDir(d)], 1024, { writeTest: true })).toEqual([]);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(readdirSync(d)).toEqual([]);
    expect(await checkStorage([quarantineDir(d)], 1024, { writeTest: false })).toEqual([]);
    expect(readdirSync(d)).toEqual([]);
  });

  it('a directory under a regular file cannot be created (ENOTDIR, root included): the file is named', async () => {
    const root = tempDir();
    writeFileSync(path.join(root, 'data'), 'not a directory');
    const d = path.join(root, 'data', 'quarantine');
    const [p, ...rest] = await checkStorage([quarantineDir(d)], 1024, { writeTest: true });
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ path: d, problem: 'not-a-directory', code: 'ENOTDIR', reason: 'storage-not-writable' });
    expect(p?.fix).toBe(
      `${path.join(root, 'data')} is not a directory: move it away, or set quarantine.path elsewhere`,
    );
  });

  it('a regular file where the directory should be', async () => {
    const root = tempDir();
    const d = path.join(root, 'quarantine');
    writeFileSync(d, '');
    const [p] = await checkStorage([quarantineDir(d)], 1024, { writeTest: false });
    expect(p).toMatchObject({ path: d, problem: 'not-a-directory', reason: 'storage-not-writable' });
  });

  it('more free space than the file system has: no-space with the free and needed bytes', async () => {
    const d = tempDir();
    const need = Number.MAX_SAFE_INTEGER;
    const [p] = await checkStorage([quarantineDir(d)], need, { writeTest: true });
    expect(p).toMatchObject({
      path: d,
      problem: 'no-space',
      code: 'ENOSPC',
      reason: 'storage-full',
      neededBytes: need,
    });
    expect(p?.freeBytes).toBeGreaterThan(0);
    expect(p?.fix).toMatch(
      new RegExp(`^free at least \\d+(\\.\\d)? MiB more on the file system of ${d}, or lower server.maxMessageSize$`),
    );
  });
});

describe('the storage-health monitor', () => {
  it('logs each new problem once with its path and fix, then ok:true on recovery; a failed storage write triggers a check', async () => {
    const d = tempDir();
    const events = captureEvents();
    let need = 1024;
    const health = createStorageHealth({
      target: () => ({ dirs: [quarantineDir(d)], needBytes: need }),
      events: events.sink,
      intervalMs: 3_600_000,
    });
    expect(await health.check()).toEqual([]);
    expect(health.failure()).toBeNull();
    expect(events.of('storage')).toEqual([]);

    need = Number.MAX_SAFE_INTEGER;
    await health.check();
    await health.check();
    expect(health.failure()).toBe('storage-full');
    const [down, ...more] = events.of('storage');
    expect(more).toEqual([]);
    expect(down).toMatchObject({
      event: 'storage',
      ok: false,
      reason: 'storage-full',
      path: d,
      problem: 'no-space',
      code: 'ENOSPC',
    });
    expect(down?.fix).toContain(d);
    // logged as an error, so it stands out in the log
    expect(events.lines.some((l) => l.includes('"event":"storage"') && l.includes('"level":50'))).toBe(true);

    // a message that failed on the disk is the earliest sign: it starts a check without waiting for the timer
    health.start();
    need = 1024;
    const up = events.waitFor('storage', (e) => e.ok, 5_000);
    events.sink.emit({
      event: 'message',
      sid: 's',
      qid: 'q',
      from: 'a@b.test',
      delivered: [],
      quarantined: [],
      size: 0,
      messageId: null,
      durationMs: 1,
      code: 451,
      outcome: 'temporary',
      reason: 'storage-enospc',
    });
    expect(await up).toEqual({ event: 'storage', ok: true });
    expect(health.failure()).toBeNull();
    health.stop();
  });

  it('checks that overlap are joined, and one more runs after them, so a change is never missed', async () => {
    const d = tempDir();
    const events = captureEvents();
    let need = 1024;
    const health = createStorageHealth({
      target: () => ({ dirs: [quarantineDir(d)], needBytes: need }),
      events: events.sink,
    });
    const first = health.check();
    need = Number.MAX_SAFE_INTEGER;
    const second = health.check();
    const third = health.check();
    expect(second).toBe(third);
    expect(await first).toEqual([]);
    expect(await second).toHaveLength(1);
    expect(health.failure()).toBe('storage-full');
  });
});
