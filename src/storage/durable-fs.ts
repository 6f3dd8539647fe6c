// The few file operations that make "250 means on disk" true, and the few reads beside them, behind one
// small seam so tests can inject a failing disk. Files are created 0600, directories 0700.
import type { Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import type { SpooledMessage } from '../message/spool.js';
import { coalescedDirSync } from './dir-sync.js';
import { writeNewFile } from './fd-file.js';
import { shortWrite } from './write-all.js';

export interface DurableFs {
  mkdirp(dir: string): Promise<void>;
  /** Makes `dest` a durable copy of the already-fsynced `src`: a hard link when possible, else a copy + fsync. */
  placeCopy(src: string, dest: string): Promise<void>;
  /** Writes `data` to `dest` (a new file) and syncs its data and size to disk (fdatasync), checking the size. */
  writeNew(dest: string, data: Buffer | string): Promise<void>;
  /**
   * Creates `dest` (O_EXCL: EEXIST when it is there) holding `data`, without fsync: for lock and claim
   * files, which only matter while their holder runs. A power loss may leave one empty or absent; the
   * stale rules of their owners take such a file over, and nothing in it is mail.
   */
  writeMarker(dest: string, data: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Makes the renames and links done in `dir` so far durable (concurrent callers share one sync: dir-sync.ts). */
  fsyncDir(dir: string): Promise<void>;
  unlink(file: string): Promise<void>;
  /** The names in `dir`, unsorted, dot names included: the caller picks what it wants. */
  readdir(dir: string): Promise<string[]>;
  /** The name itself, never what a symbolic link points at. */
  lstat(file: string): Promise<Stats>;
  /**
   * Opens an existing file for reading without following a symbolic link in its last component (the
   * open fails with ELOOP; EMLINK on the BSDs) and without waiting for a writer when it is a FIFO.
   * What the opened file is, is the caller's to judge on the handle (fstat), not on the name.
   */
  openReadNoFollow(file: string): Promise<fsp.FileHandle>;
}

/** O_NONBLOCK: a FIFO would otherwise hang the open until a writer comes; regular files ignore it. */
const READ_NO_FOLLOW = fsp.constants.O_RDONLY | fsp.constants.O_NOFOLLOW | fsp.constants.O_NONBLOCK;

async function fsyncDirOnce(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** One per process: every store and Maildir writer of the process shares the syncs of a directory. */
const fsyncDirShared = coalescedDirSync(fsyncDirOnce);

export const nodeDurableFs: DurableFs = {
  async mkdirp(dir) {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  },
  async placeCopy(src, dest) {
    try {
      await fsp.link(src, dest);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // another filesystem, or one without hard links: copy and sync the copy
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw err;
    }
    try {
      await fsp.copyFile(src, dest, fsp.constants.COPYFILE_EXCL);
      await fsp.chmod(dest, 0o600);
      const expected = (await fsp.stat(src)).size;
      const fh = await fsp.open(dest, 'r');
      try {
        await fh.sync();
        const actual = (await fh.stat()).size;
        if (actual !== expected) throw shortWrite(dest, expected, actual);
      } finally {
        await fh.close();
      }
    } catch (err) {
      // EEXIST means the file is someone else's; anything else is our partial copy
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await fsp.unlink(dest).catch(() => undefined);
      throw err;
    }
  },
  writeNew: (dest, data) => writeNewFile(dest, typeof data === 'string' ? Buffer.from(data) : data, true),
  writeMarker: (dest, data) => writeNewFile(dest, Buffer.from(data), false),
  rename: (from, to) => fsp.rename(from, to),
  fsyncDir: fsyncDirShared,
  async unlink(file) {
    await fsp.unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  },
  readdir: (dir) => fsp.readdir(dir),
  lstat: (file) => fsp.lstat(file),
  openReadNoFollow: (file) => fsp.open(file, READ_NO_FOLLOW),
};

/** A durable copy of a spooled message at `dest` (a new file): linked or copied from the spool file, or written from memory. */
export async function placeMessage(fs: DurableFs, message: SpooledMessage, dest: string): Promise<void> {
  if (message.kind === 'file') await fs.placeCopy(message.path, dest);
  else await fs.writeNew(dest, message.data);
}

/** Writes a whole small file atomically: temp name, fsync, rename, fsync the directory. */
export async function replaceFileDurably(fs: DurableFs, dest: string, data: Buffer | string): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await fs.writeNew(tmp, data);
    await fs.rename(tmp, dest);
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fs.fsyncDir(path.dirname(dest));
}
