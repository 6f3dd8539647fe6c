// The quarantine: <id>.eml + <id>.json per message (SPEC §5). This facade composes the parts, each in
// its own file: entry-writer (prepare/commit, rewrite, remove), entry-reader (metadata, message,
// listing), purge (the one purge loop and its rules), notice-claim (the cross-process notice lock) and
// crash-cleanup (leftovers at start). Knows nothing of notices beyond storing their state. All file
// I/O goes through the DurableFs seam.
import type { Readable } from 'node:stream';
import type { SpooledMessage } from '../message/spool.js';
import { nodeDurableFs, type DurableFs } from '../storage/durable-fs.js';
import { cleanCrashLeftovers } from './crash-cleanup.js';
import type { NoticeState, QuarantineEntry } from './entry.js';
import { entryPaths, THIS_HOST } from './entry-paths.js';
import { createEntryReader } from './entry-reader.js';
import { createEntryWriter, type PreparedEntry } from './entry-writer.js';
import type { MessageId } from './id.js';
import { createNoticeClaims, THIS_PROCESS, type ClaimHolderCheck } from './notice-claim.js';
import { purgeMatching, type PurgeResult, type PurgeRule } from './purge.js';

export { UnsafeEntryFileError } from './entry-reader.js';
export type { PreparedEntry } from './entry-writer.js';
export type { PurgeRule } from './purge.js';

export interface QuarantineStore {
  readonly dir: string;
  prepare(entry: QuarantineEntry, message: SpooledMessage, storeBody: boolean): Promise<PreparedEntry>;
  /** null when there is no such entry or its metadata does not decode; UnsafeEntryFileError for a planted file. */
  get(id: MessageId): Promise<QuarantineEntry | null>;
  /** The stored message as a stream; a planted file makes it fail (UnsafeEntryFileError) before its first byte. */
  openMessage(id: MessageId): Readable | null;
  /**
   * The whole stored message in memory, as delivery takes it (what `release` delivers); null when there
   * is none, UnsafeEntryFileError for a planted file.
   */
  loadMessage(id: MessageId): Promise<SpooledMessage | null>;
  /** The stored header block; null when it cannot be read (a planted file included). */
  readHeaders(id: MessageId): Promise<Buffer | null>;
  /** Entries newest first. Unreadable metadata files (planted ones included) are skipped. */
  list(): Promise<QuarantineEntry[]>;
  updateNotice(
    id: MessageId,
    notice: NoticeState,
    extra?: Partial<Pick<QuarantineEntry, 'auth'>>,
  ): Promise<QuarantineEntry | null>;
  /** False when the entry has neither file. */
  remove(id: MessageId): Promise<boolean>;
  /** Removes the listed entries the rule picks (purge.ts: expiredBy, receivedBy). */
  purge(rule: PurgeRule): Promise<PurgeResult>;
  /** Removes temp files and unfinished entries left behind by a crash. */
  cleanTemp(): Promise<number>;
  /**
   * An exclusive claim on one entry's notice, across all processes sharing this directory (a lock file
   * created with O_EXCL). A claim older than `staleMs` belongs to a crashed holder and is taken over.
   */
  claimNotice(id: MessageId, staleMs: number): Promise<boolean>;
  releaseNotice(id: MessageId): Promise<void>;
}

/** `claimHolder`: whether a claim's holder is alive (the server passes its instances' leases). */
export function createQuarantineStore(
  dir: string,
  fs: DurableFs = nodeDurableFs,
  opts: { readonly claimHolder?: ClaimHolderCheck } = {},
): QuarantineStore {
  const paths = entryPaths(dir);
  const writer = createEntryWriter(fs, paths);
  const reader = createEntryReader(fs, paths);
  const claims = createNoticeClaims(fs, paths, THIS_PROCESS, opts.claimHolder);

  // a plain object, not a class: tests replace single methods with a spread
  return {
    dir,
    prepare: writer.prepare,
    get: reader.get,
    openMessage: reader.openMessage,
    loadMessage: reader.loadMessage,
    readHeaders: reader.readHeaders,
    list: reader.list,
    async updateNotice(id, notice, extra) {
      const current = await reader.get(id);
      if (!current) return null;
      const next: QuarantineEntry = { ...current, ...extra, notice };
      await writer.rewrite(id, next);
      return next;
    },
    async remove(id) {
      // lstat: a planted symbolic link is an entry file to delete, whatever it points at
      const exists = (file: string): Promise<boolean> =>
        fs.lstat(file).then(
          () => true,
          () => false,
        );
      if (!(await exists(paths.json(id))) && !(await exists(paths.eml(id)))) return false;
      await writer.remove(id);
      return true;
    },
    purge: async (rule) => purgeMatching(await reader.list(), rule, writer.remove),
    cleanTemp: () => cleanCrashLeftovers(fs, paths, THIS_HOST),
    claimNotice: claims.claim,
    releaseNotice: claims.release,
  };
}
