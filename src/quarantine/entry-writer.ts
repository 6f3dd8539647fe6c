// Writing entries: a new entry in two steps (prepare, then commit or abort), a rewrite of its metadata,
// and its removal. Nothing here reads an entry back: entry-reader.ts does.
import type { SpooledMessage } from '../message/spool.js';
import path from 'node:path';
import { placeMessage, type DurableFs } from '../storage/durable-fs.js';
import { encodeComposedNotices, type PendingNotice } from './composed-notice.js';
import { sealedMetadata, type QuarantineEntry } from './entry.js';
import type { EntryPaths } from './entry-paths.js';
import { takeOwnerOf } from '../storage/file-owner.js';
import { writeSealedFile } from './seal.js';

/** quarantine.sealTo: the message is stored encrypted to `sealTo`, its notices composed beside it. */
export interface SealOptions {
  /** An age X25519 recipient (`age1…`); the server holds no identity that opens what it writes. */
  readonly sealTo: string;
  /** The notices composed at receipt (none when no notice is due). */
  readonly notices: readonly PendingNotice[];
}

export interface PreparedEntry {
  readonly id: string;
  /** Renames both files into place and syncs the directory: from here on the entry exists. */
  commit(): Promise<void>;
  /** Removes the temp files; nothing of the entry remains. */
  abort(): Promise<void>;
}

// properties, not methods: the store hands them on detached from this object
export interface EntryWriter {
  /** Both files of the entry under temp names, fsynced; the entry does not exist before commit(). */
  readonly prepare: (
    entry: QuarantineEntry,
    message: SpooledMessage,
    storeBody: boolean,
    seal?: SealOptions,
  ) => Promise<PreparedEntry>;
  /** Replaces the metadata atomically (temp file, fsync, the old file's owner, rename, fsync of the directory). */
  readonly rewrite: (id: string, entry: QuarantineEntry) => Promise<void>;
  /** Removes the entry's files, whatever they are (a planted symbolic link is removed, not followed). */
  readonly remove: (id: string) => Promise<void>;
}

const encodeEntry = (entry: QuarantineEntry): string => `${JSON.stringify(entry, null, 2)}\n`;

/**
 * Replaces a file of an entry atomically: temp name, fsync, the replaced file's owner (a command run as
 * root must not leave the server a file it cannot read: file-owner.ts), rename, fsync of the directory.
 */
export async function replaceEntryFile(fs: DurableFs, dest: string, data: string): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await fs.writeNew(tmp, data);
    await takeOwnerOf(tmp, dest);
    await fs.rename(tmp, dest);
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fs.fsyncDir(path.dirname(dest));
}

/** The header block only, for `storeBody: false`: the bytes of the message up to `headerEnd`. */
async function headerBytes(fs: DurableFs, message: SpooledMessage): Promise<Buffer> {
  if (message.kind === 'memory') return message.data.subarray(0, message.headerEnd);
  const fh = await fs.openReadNoFollow(message.path);
  try {
    const buf = Buffer.alloc(message.headerEnd);
    await fh.read(buf, 0, message.headerEnd, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

export function createEntryWriter(fs: DurableFs, paths: EntryPaths): EntryWriter {
  let ready: Promise<void> | null = null;
  // once per store; a failure is not remembered, so the next message tries again (a fixed directory recovers)
  const ensureDir = (): Promise<void> =>
    (ready ??= fs.mkdirp(paths.dir).catch((err: unknown) => {
      ready = null;
      throw err;
    }));

  async function remove(id: string): Promise<void> {
    // json first: an .eml without its .json is an orphan that list() ignores and crash cleanup removes
    await fs.unlink(paths.json(id));
    await fs.unlink(paths.eml(id));
    await fs.unlink(paths.sealed(id));
    await fs.unlink(paths.composedNotice(id));
    await fs.unlink(paths.claim(id)).catch(() => undefined);
    await fs.unlink(paths.lock(id)).catch(() => undefined);
  }

  return {
    async prepare(entry, message, storeBody, seal) {
      await ensureDir();
      const tmpEml = paths.tempEml(entry.id);
      const tmpJson = paths.tempJson(entry.id);
      const tmpNotice = paths.tempNotice(entry.id);
      const withNotices = seal !== undefined && seal.notices.length > 0;
      const dropTemps = async (): Promise<void> => {
        await fs.unlink(tmpEml).catch(() => undefined);
        await fs.unlink(tmpJson).catch(() => undefined);
        await fs.unlink(tmpNotice).catch(() => undefined);
      };
      const writeMessage = async (): Promise<void> => {
        if (seal) {
          // sealed transactions are spooled in memory (on-data.ts): the plaintext never reaches a file
          if (message.kind !== 'memory') throw new Error('a sealed entry needs its message in memory');
          const plain = storeBody ? message.data : message.data.subarray(0, message.headerEnd);
          await writeSealedFile(tmpEml, seal.sealTo, plain);
          if (withNotices) await fs.writeNew(tmpNotice, encodeComposedNotices(seal.notices));
        } else if (storeBody) await placeMessage(fs, message, tmpEml);
        else await fs.writeNew(tmpEml, await headerBytes(fs, message));
      };
      // side by side: both are temp files until commit(), and their two fsyncs overlap instead of
      // queueing one behind the other before the client hears its 250
      const written = await Promise.allSettled([
        writeMessage(),
        fs.writeNew(tmpJson, encodeEntry(seal ? sealedMetadata(entry) : entry)),
      ]);
      const failed = written.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        await dropTemps();
        throw failed.reason;
      }
      return {
        id: entry.id,
        async commit() {
          try {
            await fs.rename(tmpEml, seal ? paths.sealed(entry.id) : paths.eml(entry.id));
            if (withNotices) await fs.rename(tmpNotice, paths.composedNotice(entry.id));
            await fs.rename(tmpJson, paths.json(entry.id));
            await fs.fsyncDir(paths.dir);
          } catch (err) {
            await dropTemps();
            await remove(entry.id).catch(() => undefined);
            throw err;
          }
        },
        abort: dropTemps,
      };
    },
    rewrite: (id, entry) => replaceEntryFile(fs, paths.json(id), encodeEntry(entry)),
    remove,
  };
}
