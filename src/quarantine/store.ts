// The quarantine: <id>.eml + <id>.json per message (SPEC §5). This facade composes the parts, each in
// its own file: entry-writer (prepare/commit, rewrite, remove), entry-reader (metadata, message,
// listing), purge (the one purge loop and its rules), notice-claim (the cross-process notice lock) and
// crash-cleanup (leftovers at start). Knows nothing of notices beyond storing their state. All file
// I/O goes through the DurableFs seam.
import type { Readable } from 'node:stream';
import type { SpooledMessage } from '../message/spool.js';
import { nodeDurableFs, type DurableFs } from '../storage/durable-fs.js';
import { cleanCrashLeftovers } from './crash-cleanup.js';
import type { PendingNotice } from './composed-notice.js';
import type { AccessRecord, NoticeState, QuarantineEntry } from './entry.js';
import { withEntryLock } from './entry-lock.js';
import { entryPaths, THIS_HOST } from './entry-paths.js';
import { createEntryReader, type EntryScan } from './entry-reader.js';
import { createEntryWriter, type PreparedEntry, type SealOptions } from './entry-writer.js';
import type { MessageId } from './id.js';
import { createNoticeClaims, THIS_PROCESS, type ClaimHolderCheck } from './notice-claim.js';
import { purgeMatching, type PurgeResult, type PurgeRule } from './purge.js';
import { cleanSealedOrphans } from './sealed-leftovers.js';

export { UnsafeEntryFileError, unreadableText } from './entry-reader.js';
export type { EntryScan, UnreadableEntry } from './entry-reader.js';
export type { PreparedEntry, SealOptions } from './entry-writer.js';
export type { PendingNotice } from './composed-notice.js';
export { WrongIdentityError } from './seal.js';
export type { PurgeRule } from './purge.js';

export interface QuarantineStore {
  readonly dir: string;
  /** With `seal`, the message is stored age-encrypted (`<id>.eml.age`) and the JSON keeps no Subject. */
  prepare(
    entry: QuarantineEntry,
    message: SpooledMessage,
    storeBody: boolean,
    seal?: SealOptions,
  ): Promise<PreparedEntry>;
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
  /** Entries newest first. Unreadable metadata files (planted ones included) are left out: scan() names them. */
  list(): Promise<QuarantineEntry[]>;
  /** Entries newest first, and the metadata files that could not be read (an operator must hear of those). */
  scan(): Promise<EntryScan>;
  /** A sealed entry's message decrypted; a wrong key fails (WrongIdentityError) before the first byte. */
  openSealedMessage(id: MessageId, identities: readonly string[]): Promise<Readable | null>;
  loadSealedMessage(id: MessageId, identities: readonly string[]): Promise<SpooledMessage | null>;
  readSealedHeaders(id: MessageId, identities: readonly string[]): Promise<Buffer | null>;
  /** A sealed entry's notices as composed at receipt; null once settled (or when none was due). */
  readComposedNotices(id: MessageId): Promise<PendingNotice[] | null>;
  /**
   * Appends to the entry's access record, durably, before the caller shows or moves anything (SPEC
   * §5); null when there is no such entry.
   */
  appendAccess(id: MessageId, record: AccessRecord): Promise<QuarantineEntry | null>;
  /**
   * Writes the notice state; once it is settled (neither pending nor sending) a sealed entry's composed
   * notices are deleted: nothing of the message stays in clear longer than it has to.
   */
  updateNotice(
    id: MessageId,
    notice: NoticeState,
    extra?: Partial<Pick<QuarantineEntry, 'auth'>>,
  ): Promise<QuarantineEntry | null>;
  /**
   * Records the sender's SPF/DMARC evidence (SPEC §5) unless the entry already has some; nothing
   * else of the entry changes. null when there is no such entry.
   */
  recordAuth(id: MessageId, auth: NonNullable<QuarantineEntry['auth']>): Promise<QuarantineEntry | null>;
  /** False when the entry has neither file. */
  remove(id: MessageId): Promise<boolean>;
  /** Removes the listed entries the rule picks (purge.ts: expiredBy, receivedBy); names the unreadable ones. */
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

  /**
   * Read, change, write the metadata under the entry's lock: the server and a command may both rewrite
   * it. A change that returns the entry it was given writes nothing.
   */
  const rewriteLocked = (
    id: MessageId,
    change: (current: QuarantineEntry) => QuarantineEntry,
  ): Promise<QuarantineEntry | null> =>
    withEntryLock(fs, paths.lock(id), async () => {
      const current = await reader.get(id);
      if (!current) return null;
      const next = change(current);
      if (next !== current) await writer.rewrite(id, next);
      return next;
    });

  // a plain object, not a class: tests replace single methods with a spread
  return {
    dir,
    prepare: writer.prepare,
    get: reader.get,
    openMessage: reader.openMessage,
    loadMessage: reader.loadMessage,
    readHeaders: reader.readHeaders,
    list: reader.list,
    scan: reader.scan,
    openSealedMessage: reader.openSealedMessage,
    loadSealedMessage: reader.loadSealedMessage,
    readSealedHeaders: reader.readSealedHeaders,
    readComposedNotices: reader.readComposedNotices,
    async updateNotice(id, notice, extra) {
      const next = await rewriteLocked(id, (current) => ({ ...current, ...extra, notice }));
      if (next?.sealed && notice.status !== 'pending' && notice.status !== 'sending')
        await fs.unlink(paths.composedNotice(id));
      return next;
    },
    recordAuth: (id, auth) => rewriteLocked(id, (current) => (current.auth === null ? { ...current, auth } : current)),
    appendAccess: (id, record) => rewriteLocked(id, (current) => ({ ...current, access: [...current.access, record] })),
    async remove(id) {
      // lstat: a planted symbolic link is an entry file to delete, whatever it points at
      const exists = (file: string): Promise<boolean> =>
        fs.lstat(file).then(
          () => true,
          () => false,
        );
      const files = [paths.json(id), paths.eml(id), paths.sealed(id)];
      if (!(await Promise.all(files.map(exists))).some(Boolean)) return false;
      await writer.remove(id);
      return true;
    },
    async purge(rule) {
      const { entries, unreadable } = await reader.scan();
      return { ...(await purgeMatching(entries, rule, writer.remove)), unreadable };
    },
    cleanTemp: async () => (await cleanCrashLeftovers(fs, paths, THIS_HOST)) + (await cleanSealedOrphans(fs, paths)),
    claimNotice: claims.claim,
    releaseNotice: claims.release,
  };
}
