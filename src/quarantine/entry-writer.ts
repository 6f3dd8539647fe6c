// Writing entries: a new entry in two steps (prepare, then commit or abort), a rewrite of its metadata,
// and its removal. Nothing here reads an entry back: entry-reader.ts does.
import type { SpooledMessage } from '../message/spool.js';
import { placeMessage, replaceFileDurably, type DurableFs } from '../storage/durable-fs.js';
import type { QuarantineEntry } from './entry.js';
import type { EntryPaths } from './entry-paths.js';

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
  readonly prepare: (entry: QuarantineEntry, message: SpooledMessage, storeBody: boolean) => Promise<PreparedEntry>;
  /** Replaces the metadata atomically (temp file, fsync, rename, fsync of the directory). */
  readonly rewrite: (id: string, entry: QuarantineEntry) => Promise<void>;
  /** Removes the entry's files, whatever they are (a planted symbolic link is removed, not followed). */
  readonly remove: (id: string) => Promise<void>;
}

const encodeEntry = (entry: QuarantineEntry): string => `${JSON.stringify(entry, null, 2)}\n`;

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
    await fs.unlink(paths.claim(id)).catch(() => undefined);
  }

  return {
    async prepare(entry, message, storeBody) {
      await ensureDir();
      const tmpEml = paths.tempEml(entry.id);
      const tmpJson = paths.tempJson(entry.id);
      const dropTemps = async (): Promise<void> => {
        await fs.unlink(tmpEml).catch(() => undefined);
        await fs.unlink(tmpJson).catch(() => undefined);
      };
      try {
        if (storeBody) await placeMessage(fs, message, tmpEml);
        else await fs.writeNew(tmpEml, await headerBytes(fs, message));
        await fs.writeNew(tmpJson, encodeEntry(entry));
      } catch (err) {
        await dropTemps();
        throw err;
      }
      return {
        id: entry.id,
        async commit() {
          try {
            await fs.rename(tmpEml, paths.eml(entry.id));
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
    rewrite: (id, entry) => replaceFileDurably(fs, paths.json(id), encodeEntry(entry)),
    remove,
  };
}
