// DATA stream → one temp file on disk (trace header first), never the whole message in memory.
import { lstat, open, unlink, mkdir, readdir, rm } from 'node:fs/promises';
import { shortWrite, writeAll } from '../storage/write-all.js';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { scanHeaderBlock } from './header-block.js';

interface SpooledCommon {
  /** Bytes of the stored form: trace header + message. */
  readonly size: number;
  /** The message's own header block (without our trace header), for parsing; capped. */
  readonly headerBlock: Buffer;
  /** Byte length of trace header + header block, so a headers-only copy can be cut. */
  readonly headerEnd: number;
}

/**
 * The message as it will be stored (trace header + message): a small one in memory, a large one in a
 * spool file (fsynced unless asked not to). Destinations write the memory form themselves, durably.
 */
export type SpooledMessage =
  | (SpooledCommon & { readonly kind: 'memory'; readonly data: Buffer })
  | (SpooledCommon & { readonly kind: 'file'; readonly path: string });

export type SpoolResult =
  | { readonly kind: 'spooled'; readonly message: SpooledMessage }
  | { readonly kind: 'too-large' }
  /** The client went away (or timed out) before the final dot: nobody is left to answer. */
  | { readonly kind: 'aborted' };

/** Messages up to this size stay in memory: no spool file, no extra fsync (500 sessions × 64 KiB = 32 MiB at most). */
export const DEFAULT_MEMORY_LIMIT = 64 * 1024;

/**
 * A message only relayed (no fsync asked: the upstream's 250 is the durability) may stay in memory past
 * the memory limit while all such messages together hold at most this much: the profile of 1 MB relays
 * showed the spool file's write, read-back, open and unlink as a third of the server's CPU. Past the
 * budget (a burst of large mail) the next message goes to a spool file as before, so memory stays bounded.
 */
export const RELAY_MEMORY_BUDGET = 32 * 1024 * 1024;
let relayHeld = 0;
/** Budget bytes each relayed in-memory message holds until releaseMessage. */
const held = new WeakMap<SpooledMessage, number>();

/** Bytes of the relay budget in use now (for tests and metrics). */
export const relayMemoryHeld = (): number => relayHeld;

/** Removes the spool file of a message, if it has one, or gives back its share of the relay budget. */
export async function releaseMessage(m: SpooledMessage): Promise<void> {
  if (m.kind === 'file') await unlink(m.path).catch(() => undefined);
  const n = held.get(m);
  if (n !== undefined) {
    held.delete(m);
    relayHeld -= n;
  }
}

/**
 * Header bytes kept in memory for parsing (Message-ID, Subject, the RFC 3834 fields). Postfix keeps
 * 100 KiB (header_size_limit); past this the message is still stored whole, only not parsed further.
 * It bounds memory: 200 clients holding 260 KB of unfinished header each cost 130 MB of RSS at 256 KiB.
 */
export const MAX_HEADER_CAPTURE = 64 * 1024;

export interface SpoolWriter {
  /** Opens, writes and fsyncs; the injection point for storage fault tests. */
  openForWrite(file: string): Promise<{
    /** Writes all of `buf` or fails: a short write is never success. */
    write(buf: Buffer): Promise<unknown>;
    sync(): Promise<void>;
    /** The file's size on disk, checked against what was received before anyone answers 250. */
    size(): Promise<number>;
    close(): Promise<void>;
  }>;
}

export const fsSpoolWriter: SpoolWriter = {
  async openForWrite(file) {
    const fh = await open(file, 'wx', 0o600);
    return {
      write: (buf: Buffer) => writeAll(fh, buf),
      sync: () => fh.sync(),
      size: async () => (await fh.stat()).size,
      close: () => fh.close(),
    };
  },
};

type Output = Awaited<ReturnType<SpoolWriter['openForWrite']>>;

export async function spoolMessage(
  stream: Readable & { sizeExceeded?: boolean },
  opts: {
    readonly dir: string;
    readonly name: string;
    readonly traceHeader: string;
    readonly maxBytes: number;
    /** false when the spool file is only read back for an upstream that answers before we do: no fsync needed. */
    readonly sync?: boolean;
    /**
     * Messages up to this many bytes stay in memory (default 64 KiB, and past it, with `sync: false`,
     * as long as the relay budget lasts; 0: always a file).
     */
    readonly memoryLimit?: number;
    readonly writer?: SpoolWriter;
  },
): Promise<SpoolResult> {
  const file = path.join(opts.dir, opts.name);
  const writer = opts.writer ?? fsSpoolWriter;
  const memoryLimit = opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
  // only the default limit is stretched: an explicit one (tests, sealed quarantine) is taken as said
  const budgeted = opts.sync === false && opts.memoryLimit === undefined;
  let reserved = 0;
  const unreserve = (): void => {
    relayHeld -= reserved;
    reserved = 0;
  };
  const trace = Buffer.from(opts.traceHeader, 'latin1');
  let memory: Buffer[] = [trace];
  let out: Output | null = null;
  let written = trace.length;
  let messageBytes = 0;
  // the header block is captured into one growing buffer and scanned line by line from where the last
  // scan stopped, so a header sent in tiny pieces costs linear, not quadratic, time
  let header: Buffer = Buffer.allocUnsafe(4096);
  let headerLen = 0;
  let scanned = 0;
  let headerEnd = -1;
  let tooLarge = false;
  let failed: unknown = null;
  const toFile = async (): Promise<Output> => {
    await ensureDir(opts.dir);
    const o = await writer.openForWrite(file).catch(async (err: unknown) => {
      // the spool directory was removed under us: make it again once
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      readyDirs.delete(opts.dir);
      await ensureDir(opts.dir);
      return writer.openForWrite(file);
    });
    out = o;
    unreserve();
    for (const b of memory) await o.write(b);
    memory = [];
    return o;
  };
  try {
    if (memoryLimit <= 0) await toFile().catch((err: unknown) => (failed = err));
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      messageBytes += chunk.length;
      // after a storage failure the rest is read and dropped: the 451 comes after the final dot
      if (failed !== null) continue;
      if (tooLarge || messageBytes > opts.maxBytes || stream.sizeExceeded) {
        // keep reading so the client gets its 552 after the final dot, but stop storing
        tooLarge = true;
        continue;
      }
      if (headerEnd < 0 && headerLen < MAX_HEADER_CAPTURE) {
        const take = Math.min(chunk.length, MAX_HEADER_CAPTURE - headerLen);
        if (headerLen + take > header.length) {
          const grown = Buffer.allocUnsafe(Math.min(MAX_HEADER_CAPTURE, Math.max(header.length * 2, headerLen + take)));
          header.copy(grown, 0, 0, headerLen);
          header = grown;
        }
        chunk.copy(header, headerLen, 0, take);
        headerLen += take;
        const scan = scanHeaderBlock(header.subarray(0, headerLen), scanned);
        if (scan.complete) headerEnd = scan.end;
        else scanned = scan.end;
      }
      written += chunk.length;
      if (out === null && written <= memoryLimit) memory.push(chunk);
      else if (out === null && budgeted && relayHeld + chunk.length <= RELAY_MEMORY_BUDGET) {
        relayHeld += chunk.length;
        reserved += chunk.length;
        memory.push(chunk);
      } else {
        try {
          await (out ?? (await toFile())).write(chunk);
        } catch (err) {
          failed = err;
        }
      }
    }
    if (out !== null && !tooLarge && failed === null) {
      const o = out as Output;
      if (opts.sync !== false) await o.sync();
      // the last line of defence for "250 means the whole message": a full disk that cut the file
      // short without an error anywhere above must still end in 451
      const onDisk = await o.size();
      if (onDisk !== written) throw shortWrite(file, written, onDisk);
    }
  } catch (err) {
    failed = err;
  }
  if (out !== null) await (out as Output).close().catch(() => undefined);
  if (tooLarge || failed !== null) {
    unreserve();
    if (out !== null) await unlink(file).catch(() => undefined);
    if (tooLarge) return { kind: 'too-large' };
    if (isClientGone(failed)) return { kind: 'aborted' };
    throw failed;
  }
  if (headerEnd < 0) {
    // no end found: a message of header lines only (its last line may lack a newline), or a header
    // block longer than the capture, of which only the complete lines scanned so far count
    const whole = headerLen === messageBytes;
    headerEnd = whole
      ? Math.min(
          headerLen,
          scanHeaderBlock(Buffer.concat([header.subarray(0, headerLen), Buffer.from('\n')]), scanned).end,
        )
      : scanned;
  }
  const headerBlock = Buffer.from(header.subarray(0, headerEnd));
  const common: SpooledCommon = {
    size: written,
    headerBlock,
    headerEnd: trace.length + headerBlock.length,
  };
  const message: SpooledMessage =
    out === null
      ? { ...common, kind: 'memory', data: Buffer.concat(memory, written) }
      : { ...common, kind: 'file', path: file };
  if (reserved > 0) held.set(message, reserved);
  return { kind: 'spooled', message };
}

const readyDirs = new Set<string>();
async function ensureDir(dir: string): Promise<void> {
  if (readyDirs.has(dir)) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  readyDirs.add(dir);
}

function isClientGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ECONNECTION' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET';
}

/**
 * Spool files of other hosts (a container recreated under a new name) older than `maxAgeMs`: no
 * transaction lasts that long, and left alone they would keep strangers' mail past any retention.
 */
export async function cleanStaleSpools(root: string, ownDir: string, maxAgeMs: number): Promise<number> {
  const cutoff = Date.now() - maxAgeMs;
  // an instance's files, and those of its workers' directories (storage/spool-dir.ts), one level down
  const clean = async (dir: string, depth: number): Promise<number> => {
    let removed = 0;
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      // lstat: a link to a directory elsewhere is a name to remove, never a directory to empty
      const st = await lstat(`${dir}/${n}`).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) {
        if (depth === 0) removed += await clean(`${dir}/${n}`, 1);
        continue;
      }
      if (st.mtimeMs >= cutoff) continue;
      if (
        await unlink(`${dir}/${n}`).then(
          () => true,
          () => false,
        )
      )
        removed++;
    }
    return removed;
  };
  let removed = 0;
  for (const host of await readdir(root).catch(() => [] as string[])) {
    const dir = `${root}/${host}`;
    if (dir !== ownDir) removed += await clean(dir, 0);
  }
  return removed;
}

/**
 * Removes every spool file: run at start, when none of them can belong to a live transaction. The spool
 * directory is per host (see app.ts), so instances sharing a data volume never clean each other's.
 */
export async function cleanSpool(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  // workers spool in directories of their own inside (storage/spool-dir.ts): those go too
  await Promise.all(names.map((n) => rm(`${dir}/${n}`, { recursive: true, force: true }).catch(() => undefined)));
  return names.length;
}
