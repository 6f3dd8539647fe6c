// Can this server store mail? Every directory a message may be written to (the spool, the Maildir
// root, the quarantine) must be a writable directory on a file system with room for one message of
// server.maxMessageSize. Run before `serve` listens, on a SIGHUP reload, by `probe` (the container
// HEALTHCHECK) and, without the test write, every few seconds by the storage-health monitor. A server
// that cannot store mail must not look healthy: without this it would greet, pass its healthcheck and
// answer every message 451 after the client had sent it.
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/load.js';
import { spoolDirOf } from './spool-dir.js';

/**
 * Free space asked for beyond one message of maxMessageSize: the Received: header, a quarantine
 * entry's JSON, new Maildir and quarantine directory blocks, and the file system's rounding to whole
 * blocks. 1 MiB covers them many times over and is nothing on a real disk.
 */
export const STORAGE_RESERVE_BYTES = 1024 * 1024;

/** A check that has not answered in this time counts as failed: a hung disk must not look healthy. */
export const STORAGE_CHECK_TIMEOUT_MS = 10_000;

export type StorageRole = 'data' | 'spool' | 'maildir' | 'quarantine';

export interface StorageDir {
  readonly path: string;
  readonly role: StorageRole;
  /** What the operator changes to move it (README, Configuration reference). */
  readonly key: string;
}

export type StorageProblemKind = 'not-writable' | 'read-only' | 'not-a-directory' | 'no-space' | 'unusable';

/** The reason a refused MAIL FROM and the `storage` event carry (README, Logs). */
export type StorageReason = 'storage-not-writable' | 'storage-full';

export interface StorageProblem {
  readonly path: string;
  readonly role: StorageRole;
  readonly key: string;
  readonly problem: StorageProblemKind;
  /** The errno of the failed operation (`EACCES`, `EROFS`, …); `ENOSPC` for too little free space. */
  readonly code: string;
  readonly reason: StorageReason;
  /** One sentence an operator can act on: the command or the setting. */
  readonly fix: string;
  readonly freeBytes?: number;
  readonly neededBytes?: number;
}

/**
 * The directories the server writes to under `config`: the data directory itself (the instance lease and
 * runtime file live there), the spool, the Maildir root when delivery is maildir, and the quarantine.
 */
export function storageDirs(config: Config): StorageDir[] {
  const dirs: StorageDir[] = [
    { path: config.paths.dataDir, role: 'data', key: 'CATCHALL_GUARD_DATA_DIR' },
    { path: spoolDirOf(config), role: 'spool', key: 'CATCHALL_GUARD_DATA_DIR' },
  ];
  if (config.delivery.type === 'maildir')
    dirs.push({ path: config.delivery.maildir.path, role: 'maildir', key: 'delivery.maildir.path' });
  dirs.push({ path: config.quarantine.path, role: 'quarantine', key: 'quarantine.path' });
  const seen = new Set<string>();
  return dirs.filter((d) => !seen.has(d.path) && seen.add(d.path));
}

/** The free bytes each directory's file system must have: one message of maxMessageSize, plus the reserve. */
export function storageNeed(maxMessageSize: number): number {
  return maxMessageSize + STORAGE_RESERVE_BYTES;
}

export function problemKindOf(code: string): StorageProblemKind {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'not-writable';
    case 'EROFS':
      return 'read-only';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'not-a-directory';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no-space';
    default:
      return 'unusable';
  }
}

export function reasonOf(kind: StorageProblemKind): StorageReason {
  return kind === 'no-space' ? 'storage-full' : 'storage-not-writable';
}

/** One reason for a MAIL FROM while storage fails: a directory we cannot write beats one that is full. */
export function failureReason(problems: readonly StorageProblem[]): StorageReason | null {
  if (problems.length === 0) return null;
  return problems.some((p) => p.reason === 'storage-not-writable') ? 'storage-not-writable' : 'storage-full';
}

export function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${Math.ceil(n / 1024)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;
}

export interface FixFacts {
  readonly kind: StorageProblemKind;
  readonly code: string;
  readonly dir: StorageDir;
  /** What to act on: the directory, or its nearest existing ancestor when it could not be created. */
  readonly target: string;
  readonly uid: number | null;
  readonly gid: number | null;
  readonly freeBytes?: number;
  readonly neededBytes?: number;
}

/** The operator's next step for a problem. */
export function fixFor(f: FixFacts): string {
  switch (f.kind) {
    case 'not-writable': {
      // the Docker case: a bind mount owned by root on the host, the container's user is node (1000)
      const owner = f.uid === null ? 'the user the server runs as' : `${f.uid}:${f.gid ?? f.uid}`;
      return f.uid === null
        ? `make ${f.target} writable for ${owner}`
        : `chown -R ${owner} ${f.target} (on the host, for a bind mount), or set ${f.dir.key} to a writable directory`;
    }
    case 'read-only':
      return `remount the file system of ${f.target} read-write (a read-only volume or mount), or set ${f.dir.key} elsewhere`;
    case 'not-a-directory':
      return `${f.target} is not a directory: move it away, or set ${f.dir.key} elsewhere`;
    case 'no-space': {
      const short =
        f.freeBytes !== undefined && f.neededBytes !== undefined
          ? `at least ${formatBytes(f.neededBytes - f.freeBytes)} more`
          : 'space';
      return `free ${short} on the file system of ${f.target}, or lower server.maxMessageSize`;
    }
    case 'unusable':
      return `check the file system of ${f.target} (${f.code})`;
  }
}

/** One line for stderr, `probe` and a refused reload: the path, what is wrong, and the fix. */
export function describeProblem(p: StorageProblem): string {
  const what: Record<StorageProblemKind, string> = {
    'not-writable': 'is not writable',
    'read-only': 'is on a read-only file system',
    'not-a-directory': 'cannot be a directory',
    'no-space': `has too little free space (${formatBytes(p.freeBytes ?? 0)} free, ${formatBytes(p.neededBytes ?? 0)} needed for one message of server.maxMessageSize)`,
    unusable: 'cannot be used',
  };
  return `${p.path} (${p.role}, ${p.key}) ${what[p.problem]} [${p.code}]; fix: ${p.fix}`;
}

/** The problems of `next` that `current` does not have: what a reload would make worse. */
export function newProblems(next: readonly StorageProblem[], current: readonly StorageProblem[]): StorageProblem[] {
  const known = new Set(current.map(problemKey));
  return next.filter((p) => !known.has(problemKey(p)));
}

export const problemKey = (p: StorageProblem): string => `${p.path}\0${p.problem}`;

export interface CheckOptions {
  /**
   * Write, fsync and remove a small file in each directory: what proves it writable. The periodic
   * run-time check leaves it out (no file appears among the mail, nothing is synced every few seconds)
   * and asks access(2) instead, which answers permissions and read-only mounts the same way.
   */
  readonly writeTest: boolean;
  readonly uid?: number | null;
  readonly gid?: number | null;
  readonly timeoutMs?: number;
}

const codeOf = (err: unknown): string => {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : 'EIO';
};

/** The directory itself, or the nearest ancestor that exists: what a chown or a mount must reach. */
async function nearestExisting(dir: string): Promise<string> {
  let p = dir;
  for (;;) {
    try {
      await fsp.lstat(p);
      return p;
    } catch {
      const up = path.dirname(p);
      if (up === p) return p;
      p = up;
    }
  }
}

/**
 * Creates `dir` level by level below `existing` (0700). Not mkdir's `recursive`: on a read-only mount
 * that reports ENOENT, where each level's own mkdir reports the EROFS or EACCES an operator can act on.
 */
async function mkdirFrom(existing: string, dir: string): Promise<void> {
  const rel = path.relative(existing, dir);
  if (rel === '') return;
  let p = existing;
  for (const part of rel.split(path.sep)) {
    p = path.join(p, part);
    await fsp.mkdir(p, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err; // made meanwhile by another instance: fine, judged below
    });
  }
}

async function writeTest(dir: string): Promise<void> {
  // `.tmp`: a probe file a crash left in the quarantine is removed by its crash clean-up
  const file = path.join(dir, `.storage-check.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fsp.open(file, 'wx', 0o600);
  try {
    await fh.write('catchall-guard storage check\n');
    await fh.sync();
  } finally {
    await fh.close().catch(() => undefined);
    await fsp.unlink(file).catch(() => undefined);
  }
}

/** One directory's answer; `dev`, the file system it is on, lets one full disk be reported once. */
interface Judged {
  readonly problem: StorageProblem | null;
  readonly dev?: number;
}

async function checkDir(dir: StorageDir, needBytes: number, opts: CheckOptions): Promise<Judged> {
  const ids = {
    uid: opts.uid !== undefined ? opts.uid : (process.getuid?.() ?? null),
    gid: opts.gid !== undefined ? opts.gid : (process.getgid?.() ?? null),
  };
  const before = await nearestExisting(dir.path);
  const problem = (kind: StorageProblemKind, code: string, space?: { free: number; need: number }): StorageProblem => {
    // a directory that could not be created: what to chown or remount is the ancestor that exists
    const target = kind !== 'no-space' && (kind === 'not-a-directory' || before !== dir.path) ? before : dir.path;
    const facts = {
      kind,
      code,
      dir,
      target,
      ...ids,
      ...(space ? { freeBytes: space.free, neededBytes: space.need } : {}),
    };
    return {
      path: dir.path,
      role: dir.role,
      key: dir.key,
      problem: kind,
      code,
      reason: reasonOf(kind),
      fix: fixFor(facts),
      ...(space ? { freeBytes: space.free, neededBytes: space.need } : {}),
    };
  };
  try {
    await mkdirFrom(before, dir.path);
    const st = await fsp.stat(dir.path);
    if (!st.isDirectory()) return { problem: problem('not-a-directory', 'ENOTDIR') };
    if (opts.writeTest) await writeTest(dir.path);
    else await fsp.access(dir.path, fsp.constants.W_OK | fsp.constants.X_OK);
    const fs = await fsp.statfs(dir.path);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < needBytes) return { problem: problem('no-space', 'ENOSPC', { free, need: needBytes }), dev: st.dev };
    return { problem: null };
  } catch (err) {
    const code = codeOf(err);
    return { problem: problem(problemKindOf(code), code) };
  }
}

/** The check of one directory, or `ETIMEDOUT` when the file system does not answer in time. */
function withTimeout(dir: StorageDir, check: Promise<Judged>, ms: number): Promise<Judged> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Judged>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          problem: {
            path: dir.path,
            role: dir.role,
            key: dir.key,
            problem: 'unusable',
            code: 'ETIMEDOUT',
            reason: 'storage-not-writable',
            fix: `check the file system of ${dir.path}: it did not answer within ${ms} ms`,
          },
        }),
      ms,
    );
  });
  return Promise.race([check, late]).finally(() => clearTimeout(timer));
}

/** Creates missing directories (0700) and returns what is wrong, one problem per directory; [] when all is well. Never throws. */
export async function checkStorage(
  dirs: readonly StorageDir[],
  needBytes: number,
  opts: CheckOptions,
): Promise<StorageProblem[]> {
  const ms = opts.timeoutMs ?? STORAGE_CHECK_TIMEOUT_MS;
  const results = await Promise.all(dirs.map((d) => withTimeout(d, checkDir(d, needBytes, opts), ms)));
  // several directories on one full disk: the first one names it (the data directory, as listed)
  const fullDevices = new Set<number>();
  const problems: StorageProblem[] = [];
  for (const r of results) {
    if (!r.problem) continue;
    if (r.dev !== undefined) {
      if (fullDevices.has(r.dev)) continue;
      fullDevices.add(r.dev);
    }
    problems.push(r.problem);
  }
  return problems;
}

/** The start, reload and `probe` check of a configuration: with the test write. */
export function checkConfigStorage(config: Config, needBytes?: number): Promise<StorageProblem[]> {
  return checkStorage(storageDirs(config), needBytes ?? storageNeed(config.server.maxMessageSize), {
    writeTest: true,
  });
}

/** `serve` refuses to start: thrown by App.start, printed by `serve` one line per problem. */
export class StorageUnusableError extends Error {
  readonly problems: readonly StorageProblem[];
  constructor(problems: readonly StorageProblem[]) {
    super(`cannot store mail: ${problems.map(describeProblem).join('; ')}`);
    this.problems = problems;
  }
}

/** What `serve` prints to stderr when it refuses to start: one line per problem, the path and the fix. */
export function storageFailureText(problems: readonly StorageProblem[]): string {
  return problems.map((p) => `catchall-guard: cannot store mail: ${describeProblem(p)}\n`).join('');
}

/** `probe`: the same check as at start, one line per problem ([] when mail can be stored). */
export async function probeStorage(config: Config): Promise<string[]> {
  return (await checkConfigStorage(config)).map((p) => `cannot store mail: ${describeProblem(p)}`);
}
