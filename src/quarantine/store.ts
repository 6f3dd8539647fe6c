// The quarantine: <id>.eml + <id>.json per message. Knows nothing of notices beyond storing their state.
import { readdir, readFile, stat, lstat, open, type FileHandle } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import type { SpooledMessage } from '../message/spool.js';
import { scanHeaderBlock } from '../message/header-block.js';
import { nodeDurableFs, placeMessage, replaceFileDurably, type DurableFs } from '../storage/durable-fs.js';
import { decodeEntry, type NoticeState, type QuarantineEntry } from './entry.js';
import { parseMessageId, type MessageId } from './id.js';

export interface PreparedEntry {
  readonly id: string;
  /** Renames both files into place and syncs the directory: from here on the entry exists. */
  commit(): Promise<void>;
  /** Removes the temp files; nothing of the entry remains. */
  abort(): Promise<void>;
}

/**
 * A file of an entry that is not a regular file of its own: a symbolic link, a FIFO or a directory
 * someone planted in the quarantine directory. It is never read through, so `show --raw` cannot print
 * and `release` cannot deliver a file from elsewhere.
 */
export class UnsafeEntryFileError extends Error {
  constructor(
    readonly file: string,
    readonly found: string,
  ) {
    super(`${path.basename(file)} is ${found}, not a regular file`);
    this.name = 'UnsafeEntryFileError';
  }
}

export interface QuarantineStore {
  readonly dir: string;
  prepare(entry: QuarantineEntry, message: SpooledMessage, storeBody: boolean): Promise<PreparedEntry>;
  /** null when there is no such entry or its metadata does not decode; UnsafeEntryFileError for a planted file. */
  get(id: MessageId): Promise<QuarantineEntry | null>;
  /** The stored message as a stream; a planted file makes it fail (UnsafeEntryFileError) before its first byte. */
  openMessage(id: MessageId): Readable | null;
  /** The whole stored message; null when there is none, UnsafeEntryFileError for a planted file. */
  readMessage(id: MessageId): Promise<Buffer | null>;
  /** The stored header block; null when it cannot be read (a planted file included). */
  readHeaders(id: MessageId): Promise<Buffer | null>;
  /** Entries newest first. Unreadable metadata files (planted ones included) are skipped. */
  list(): Promise<QuarantineEntry[]>;
  updateNotice(
    id: MessageId,
    notice: NoticeState,
    extra?: Partial<Pick<QuarantineEntry, 'auth'>>,
  ): Promise<QuarantineEntry | null>;
  remove(id: MessageId): Promise<boolean>;
  purgeExpired(now: Date): Promise<{ readonly deleted: number }>;
  purgeOlderThan(cutoff: Date): Promise<{ readonly deleted: number }>;
  /** Removes temp files left behind by a crash. */
  cleanTemp(): Promise<number>;
  /**
   * An exclusive claim on one entry's notice, across all processes sharing this directory (a lock file
   * created with O_EXCL). A claim older than `staleMs` belongs to a crashed holder and is taken over.
   */
  claimNotice(id: MessageId, staleMs: number): Promise<boolean>;
  releaseNotice(id: MessageId): Promise<void>;
}

const TMP_SUFFIX = '.tmp';
/** A commit takes milliseconds; a temp file older than this belongs to no live transaction. */
export const TEMP_GRACE_MS = 10 * 60_000;
const CLAIM_HOST = hostname().replace(/\s/g, '_');
/** Per process, not per store: a reload builds a new store, the process stays the claim's owner. */
const CLAIM_TOKEN = randomUUID();
const CLAIM_OWNER = `${CLAIM_HOST} ${CLAIM_TOKEN}`;

/**
 * O_NOFOLLOW: a symbolic link fails the open (ELOOP; EMLINK on the BSDs) instead of being followed.
 * O_NONBLOCK: a planted FIFO cannot hang the open while it waits for a writer; regular files ignore it.
 */
const SAFE_READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function describeNonRegular(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'a device';
}

/** Opens an entry file for reading only if it is a regular file itself, judged on the opened descriptor. */
async function openRegular(file: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(file, SAFE_READ_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK') throw new UnsafeEntryFileError(file, 'a symbolic link');
    throw err;
  }
  try {
    // fstat of what was opened, not a stat of the name: the name may be swapped between the two
    const st = await fh.stat();
    if (!st.isFile()) throw new UnsafeEntryFileError(file, describeNonRegular(st));
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Enough for any legitimate header block: what a notice quotes and a release passes on as headers. */
export const HEADER_READ_BYTES = 256 * 1024;

/**
 * The header block of a stored message, by the same rule as at receive time: never a line of the body.
 * `head` is the message's first bytes (at most HEADER_READ_BYTES), `whole` whether they are all of it.
 */
export function headerBlockOf(head: Buffer, whole: boolean): Buffer {
  const scan = scanHeaderBlock(head);
  const end = scan.complete || whole ? scanHeaderBlock(Buffer.concat([head, Buffer.from('\n')])).end : scan.end;
  return head.subarray(0, Math.min(end, head.length));
}

async function readRegular(file: string): Promise<Buffer> {
  const fh = await openRegular(file);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

export function createQuarantineStore(dir: string, fs: DurableFs = nodeDurableFs): QuarantineStore {
  const emlPath = (id: string): string => path.join(dir, `${id}.eml`);
  const jsonPath = (id: string): string => path.join(dir, `${id}.json`);
  let ready: Promise<void> | null = null;
  const ensureDir = (): Promise<void> =>
    (ready ??= fs.mkdirp(dir).catch((err: unknown) => {
      ready = null;
      throw err;
    }));

  async function readEntry(id: MessageId): Promise<QuarantineEntry | null> {
    let text: string;
    try {
      text = (await readRegular(jsonPath(id))).toString('utf8');
    } catch (err) {
      if (err instanceof UnsafeEntryFileError) throw err;
      return null;
    }
    return decodeEntry(text);
  }

  const claimPath = (id: string): string => path.join(dir, `.${id}.claim`);

  async function removeFiles(id: string): Promise<void> {
    // json first: an .eml without its .json is an orphan that list() ignores and cleanTemp() removes
    await fs.unlink(jsonPath(id));
    await fs.unlink(emlPath(id));
    await fs.unlink(claimPath(id)).catch(() => undefined);
  }

  const store: QuarantineStore = {
    dir,
    async prepare(entry, message, storeBody) {
      await ensureDir();
      // temp names carry the host, so a restart can clean its own leftovers at once and leave another
      // instance's in-flight commit alone
      const tmpEml = path.join(dir, `.${entry.id}.${CLAIM_HOST}.eml${TMP_SUFFIX}`);
      const tmpJson = path.join(dir, `.${entry.id}.${CLAIM_HOST}.json${TMP_SUFFIX}`);
      try {
        if (storeBody) {
          await placeMessage(fs, message, tmpEml);
        } else if (message.kind === 'memory') {
          await fs.writeNew(tmpEml, message.data.subarray(0, message.headerEnd));
        } else {
          const fh = await open(message.path, 'r');
          try {
            const buf = Buffer.alloc(message.headerEnd);
            await fh.read(buf, 0, message.headerEnd, 0);
            await fs.writeNew(tmpEml, buf);
          } finally {
            await fh.close();
          }
        }
        await fs.writeNew(tmpJson, `${JSON.stringify(entry, null, 2)}\n`);
      } catch (err) {
        await fs.unlink(tmpEml).catch(() => undefined);
        await fs.unlink(tmpJson).catch(() => undefined);
        throw err;
      }
      return {
        id: entry.id,
        async commit() {
          try {
            await fs.rename(tmpEml, emlPath(entry.id));
            await fs.rename(tmpJson, jsonPath(entry.id));
            await fs.fsyncDir(dir);
          } catch (err) {
            await fs.unlink(tmpEml).catch(() => undefined);
            await fs.unlink(tmpJson).catch(() => undefined);
            await removeFiles(entry.id).catch(() => undefined);
            throw err;
          }
        },
        async abort() {
          await fs.unlink(tmpEml).catch(() => undefined);
          await fs.unlink(tmpJson).catch(() => undefined);
        },
      };
    },
    get: readEntry,
    openMessage(id) {
      const file = emlPath(id);
      return Readable.from(
        (async function* () {
          const fh = await openRegular(file);
          try {
            for await (const chunk of fh.createReadStream({ autoClose: false })) yield chunk as Buffer;
          } finally {
            await fh.close();
          }
        })(),
        { objectMode: false },
      );
    },
    async readMessage(id) {
      try {
        return await readRegular(emlPath(id));
      } catch (err) {
        if (err instanceof UnsafeEntryFileError) throw err;
        return null;
      }
    },
    async readHeaders(id) {
      try {
        const fh = await openRegular(emlPath(id));
        try {
          const buf = Buffer.alloc(HEADER_READ_BYTES);
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          return headerBlockOf(buf.subarray(0, bytesRead), bytesRead < buf.length);
        } finally {
          await fh.close();
        }
      } catch {
        return null;
      }
    },
    async list() {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return [];
      }
      const ids = names
        .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
        .map((n) => parseMessageId(n.slice(0, -'.json'.length)))
        .filter((id): id is MessageId => id !== null)
        .sort()
        .reverse();
      const entries: QuarantineEntry[] = [];
      for (const id of ids) {
        const e = await readEntry(id).catch(() => null);
        if (e) entries.push(e);
      }
      return entries;
    },
    async updateNotice(id, notice, extra) {
      const current = await readEntry(id);
      if (!current) return null;
      const next: QuarantineEntry = { ...current, ...extra, notice };
      await replaceFileDurably(fs, jsonPath(id), `${JSON.stringify(next, null, 2)}\n`);
      return next;
    },
    async remove(id) {
      // lstat: a planted symbolic link is an entry file to delete, whatever it points at
      const exists = await lstat(jsonPath(id)).then(
        () => true,
        () => false,
      );
      const emlExists = await lstat(emlPath(id)).then(
        () => true,
        () => false,
      );
      if (!exists && !emlExists) return false;
      await removeFiles(id);
      return true;
    },
    async purgeExpired(now) {
      let deleted = 0;
      for (const e of await store.list()) {
        if (Date.parse(e.expiresAt) <= now.getTime()) {
          await removeFiles(e.id);
          deleted++;
        }
      }
      return { deleted };
    },
    async purgeOlderThan(cutoff) {
      let deleted = 0;
      for (const e of await store.list()) {
        if (Date.parse(e.receivedAt) <= cutoff.getTime()) {
          await removeFiles(e.id);
          deleted++;
        }
      }
      return { deleted };
    },
    async claimNotice(id, staleMs) {
      for (let tries = 0; tries < 2; tries++) {
        try {
          const fh = await open(claimPath(id), 'wx', 0o600);
          try {
            await fh.writeFile(CLAIM_OWNER);
          } finally {
            await fh.close();
          }
          return true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          const [age, owner] = await Promise.all([
            stat(claimPath(id)).then(
              (st) => Date.now() - st.mtimeMs,
              () => 0,
            ),
            readFile(claimPath(id), 'utf8').catch(() => ''),
          ]);
          // one instance per host (SPEC §11): a claim of this host that is not ours is a dead predecessor's
          const [host, token] = owner.split(' ');
          const predecessor = host === CLAIM_HOST && token !== CLAIM_TOKEN;
          if (age < staleMs && !predecessor) return false;
          await fs.unlink(claimPath(id));
        }
      }
      return false;
    },
    async releaseNotice(id) {
      await fs.unlink(claimPath(id));
    },
    async cleanTemp() {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return 0;
      }
      const jsons = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
      // a crash between the two renames of a commit of ours leaves `<id>.eml` beside our `.<id>.<host>.json.tmp`
      const ownJsonTmp = `.${CLAIM_HOST}.json${TMP_SUFFIX}`;
      const ownUnfinished = new Set(
        names.filter((n) => n.startsWith('.') && n.endsWith(ownJsonTmp)).map((n) => n.slice(1, -ownJsonTmp.length)),
      );
      let removed = 0;
      const cutoff = Date.now() - TEMP_GRACE_MS;
      for (const n of names) {
        const orphanEml = n.endsWith('.eml') && !jsons.has(n.slice(0, -4));
        if ((n.startsWith('.') && n.endsWith(TMP_SUFFIX)) || orphanEml) {
          // ours (this host) go at once; another instance may be committing this very entry: only old leftovers of others
          const own =
            n.endsWith(`.${CLAIM_HOST}.eml${TMP_SUFFIX}`) ||
            n.endsWith(ownJsonTmp) ||
            (orphanEml && ownUnfinished.has(n.slice(0, -4)));
          const mtime = own
            ? 0
            : await stat(path.join(dir, n)).then(
                (st) => st.mtimeMs,
                () => Date.now(),
              );
          if (mtime > cutoff) continue;
          await fs.unlink(path.join(dir, n)).catch(() => undefined);
          removed++;
        }
      }
      return removed;
    },
  };
  return store;
}
