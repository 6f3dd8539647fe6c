// Reading entries: the metadata, the stored message (whole, streamed, or its header block) and the
// listing. Every entry file is opened without following a link and judged on the opened descriptor, so
// a file planted in the directory is refused, never read through.
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { scanHeaderBlock } from '../message/header-block.js';
import type { SpooledMessage } from '../message/spool.js';
import type { DurableFs } from '../storage/durable-fs.js';
import { decodeComposedNotices, type PendingNotice } from './composed-notice.js';
import { decodeEntry, type QuarantineEntry } from './entry.js';
import type { EntryPaths } from './entry-paths.js';
import { parseMessageId, type MessageId } from './id.js';
import { openSealed, readAllOf } from './seal.js';

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

function describeNonRegular(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'a device';
}

/** Opens a file of the quarantine directory for reading only if it is a regular file itself. */
export async function openEntryFile(fs: DurableFs, file: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await fs.openReadNoFollow(file);
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

export async function readEntryFile(fs: DurableFs, file: string): Promise<Buffer> {
  const fh = await openEntryFile(fs, file);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
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

/** The ids of the entries among a directory's names, newest first (ids sort by time). */
export function entryIdsNewestFirst(names: readonly string[]): MessageId[] {
  return names
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .map((n) => parseMessageId(n.slice(0, -'.json'.length)))
    .filter((id): id is MessageId => id !== null)
    .sort()
    .reverse();
}

/**
 * A metadata file `list` cannot show: unreadable (`EACCES`: written by another user, say root running a
 * command), not a regular file (`not-a-regular-file`), or not an entry (`undecodable`). Never skipped in
 * silence: an entry nobody sees is an entry retention never deletes.
 */
export interface UnreadableEntry {
  readonly file: string;
  readonly why: string;
}

export interface EntryScan {
  readonly entries: QuarantineEntry[];
  readonly unreadable: UnreadableEntry[];
}

/** `2 entries could not be read: /q/a.json (EACCES), /q/b.json (undecodable)`: for a log line or stderr. */
export function unreadableText(unreadable: readonly UnreadableEntry[]): string {
  const n = unreadable.length;
  return `${n} ${n === 1 ? 'entry' : 'entries'} could not be read: ${unreadable.map((u) => `${u.file} (${u.why})`).join(', ')}`;
}

// properties, not methods: the store hands them on detached from this object
export interface EntryReader {
  /** null when there is no such entry or its metadata does not decode; UnsafeEntryFileError for a planted file. */
  readonly get: (id: MessageId) => Promise<QuarantineEntry | null>;
  /** The stored message as a stream; a planted file makes it fail (UnsafeEntryFileError) before its first byte. */
  readonly openMessage: (id: MessageId) => Readable | null;
  /**
   * The whole stored message in memory, with its header block, in the shape delivery takes. Read
   * through the checked descriptor: delivering by path would hard-link whatever the name points at by
   * then (a planted symbolic link) into the Maildir. null when there is none, UnsafeEntryFileError for
   * a planted file.
   */
  readonly loadMessage: (id: MessageId) => Promise<SpooledMessage | null>;
  /** The stored header block; null when it cannot be read (a planted file included). */
  readonly readHeaders: (id: MessageId) => Promise<Buffer | null>;
  /** Entries newest first. Unreadable metadata files (planted ones included) are left out: scan() names them. */
  readonly list: () => Promise<QuarantineEntry[]>;
  /** Entries newest first, and the metadata files that could not be read, each with why. */
  readonly scan: () => Promise<EntryScan>;
  /**
   * A sealed entry's message, decrypted with one of `identities`. Resolves once the age header has
   * opened, so a wrong key (WrongIdentityError) or a planted file (UnsafeEntryFileError) fails before
   * the first byte; null when there is no `.eml.age`.
   */
  readonly openSealedMessage: (id: MessageId, identities: readonly string[]) => Promise<Readable | null>;
  /** A sealed entry's message whole in memory, as loadMessage gives a message in clear. */
  readonly loadSealedMessage: (id: MessageId, identities: readonly string[]) => Promise<SpooledMessage | null>;
  /** A sealed entry's header block, decrypted; the rest of the file is not read. */
  readonly readSealedHeaders: (id: MessageId, identities: readonly string[]) => Promise<Buffer | null>;
  /** A sealed entry's notices composed at receipt; null when there are none (sent, or never due). */
  readonly readComposedNotices: (id: MessageId) => Promise<PendingNotice[] | null>;
}

/** Up to `limit` bytes of a stream, then it is destroyed: the rest is never read (nor decrypted). */
async function readHead(stream: Readable, limit: number): Promise<{ head: Buffer; whole: boolean }> {
  const parts: Buffer[] = [];
  let n = 0;
  let whole = true;
  try {
    for await (const chunk of stream) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      parts.push(b);
      n += b.length;
      if (n >= limit) {
        whole = false;
        break;
      }
    }
  } finally {
    stream.destroy();
  }
  return { head: Buffer.concat(parts).subarray(0, limit), whole };
}

/** The bytes of a stored message in the shape delivery takes: in memory, with its header block. */
function inMemory(data: Buffer): SpooledMessage {
  const headers = headerBlockOf(data.subarray(0, HEADER_READ_BYTES), data.length <= HEADER_READ_BYTES);
  return { kind: 'memory', data, size: data.length, headerBlock: headers, headerEnd: headers.length };
}

export function createEntryReader(fs: DurableFs, paths: EntryPaths): EntryReader {
  async function openSealedMessage(id: MessageId, identities: readonly string[]): Promise<Readable | null> {
    let fh: FileHandle;
    try {
      fh = await openEntryFile(fs, paths.sealed(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // the descriptor checked above is the one read: the name may be swapped meanwhile
    return openSealed(fh.createReadStream({ autoClose: true }), identities);
  }

  async function get(id: MessageId): Promise<QuarantineEntry | null> {
    let text: string;
    try {
      text = (await readEntryFile(fs, paths.json(id))).toString('utf8');
    } catch (err) {
      if (err instanceof UnsafeEntryFileError) throw err;
      return null;
    }
    return decodeEntry(text);
  }

  async function scan(): Promise<EntryScan> {
    let names: string[];
    try {
      names = await fs.readdir(paths.dir);
    } catch {
      // no quarantine directory yet: nothing was quarantined
      return { entries: [], unreadable: [] };
    }
    const entries: QuarantineEntry[] = [];
    const unreadable: UnreadableEntry[] = [];
    for (const id of entryIdsNewestFirst(names)) {
      const file = paths.json(id);
      let text: string;
      try {
        text = (await readEntryFile(fs, file)).toString('utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // removed between readdir and open (a purge, a release): simply gone
        if (code === 'ENOENT') continue;
        const why = err instanceof UnsafeEntryFileError ? 'not-a-regular-file' : (code ?? String(err));
        unreadable.push({ file, why });
        continue;
      }
      const e = decodeEntry(text);
      if (e) entries.push(e);
      else unreadable.push({ file, why: 'undecodable' });
    }
    return { entries, unreadable };
  }

  return {
    get,
    openMessage(id) {
      const file = paths.eml(id);
      return Readable.from(
        (async function* () {
          const fh = await openEntryFile(fs, file);
          try {
            for await (const chunk of fh.createReadStream({ autoClose: false })) yield chunk as Buffer;
          } finally {
            await fh.close();
          }
        })(),
        { objectMode: false },
      );
    },
    async loadMessage(id) {
      let data: Buffer;
      try {
        data = await readEntryFile(fs, paths.eml(id));
      } catch (err) {
        if (err instanceof UnsafeEntryFileError) throw err;
        return null;
      }
      return inMemory(data);
    },
    async readHeaders(id) {
      try {
        const fh = await openEntryFile(fs, paths.eml(id));
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
    list: async () => (await scan()).entries,
    scan,
    openSealedMessage,
    async loadSealedMessage(id, identities) {
      const plain = await openSealedMessage(id, identities);
      return plain ? inMemory(await readAllOf(plain)) : null;
    },
    async readSealedHeaders(id, identities) {
      const plain = await openSealedMessage(id, identities);
      if (!plain) return null;
      const { head, whole } = await readHead(plain, HEADER_READ_BYTES);
      return headerBlockOf(head, whole);
    },
    async readComposedNotices(id) {
      try {
        return decodeComposedNotices((await readEntryFile(fs, paths.composedNotice(id))).toString('utf8'));
      } catch {
        return null;
      }
    },
  };
}
