// The quarantine: <id>.eml + <id>.json per message. Knows nothing of notices beyond storing their state.
import { readdir, readFile, stat, open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
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

export interface QuarantineStore {
  readonly dir: string;
  prepare(entry: QuarantineEntry, message: SpooledMessage, storeBody: boolean): Promise<PreparedEntry>;
  get(id: MessageId): Promise<QuarantineEntry | null>;
  openMessage(id: MessageId): Readable | null;
  readHeaders(id: MessageId): Promise<Buffer | null>;
  /** Entries newest first. Unreadable metadata files are skipped. */
  list(): Promise<QuarantineEntry[]>;
  updateNotice(id: MessageId, notice: NoticeState, extra?: Partial<Pick<QuarantineEntry, 'auth'>>): Promise<QuarantineEntry | null>;
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

export function createQuarantineStore(dir: string, fs: DurableFs = nodeDurableFs): QuarantineStore {
  const emlPath = (id: string): string => path.join(dir, `${id}.eml`);
  const jsonPath = (id: string): string => path.join(dir, `${id}.json`);
  let ready: Promise<void> | null = null;
  const ensureDir = (): Promise<void> => (ready ??= fs.mkdirp(dir).catch((err: unknown) => {
    ready = null;
    throw err;
  }));

  async function readEntry(id: MessageId): Promise<QuarantineEntry | null> {
    try {
      return decodeEntry(await readFile(jsonPath(id), 'utf8'));
    } catch {
      return null;
    }
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
      return createReadStream(emlPath(id));
    },
    async readHeaders(id) {
      try {
        const fh = await open(emlPath(id), 'r');
        try {
          const buf = Buffer.alloc(256 * 1024);
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          const data = buf.subarray(0, bytesRead);
          // the header block only, by the same rule as at receive time: never a line of the body
          const scan = scanHeaderBlock(data);
          const end = scan.complete || bytesRead < buf.length ? scanHeaderBlock(Buffer.concat([data, Buffer.from('\n')])).end : scan.end;
          return data.subarray(0, Math.min(end, data.length));
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
        const e = await readEntry(id);
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
      const exists = await stat(jsonPath(id)).then(() => true, () => false);
      const emlExists = await stat(emlPath(id)).then(() => true, () => false);
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
            stat(claimPath(id)).then((st) => Date.now() - st.mtimeMs, () => 0),
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
      const ownUnfinished = new Set(names.filter((n) => n.startsWith('.') && n.endsWith(ownJsonTmp)).map((n) => n.slice(1, -ownJsonTmp.length)));
      let removed = 0;
      const cutoff = Date.now() - TEMP_GRACE_MS;
      for (const n of names) {
        const orphanEml = n.endsWith('.eml') && !jsons.has(n.slice(0, -4));
        if ((n.startsWith('.') && n.endsWith(TMP_SUFFIX)) || orphanEml) {
          // ours (this host) go at once; another instance may be committing this very entry: only old leftovers of others
          const own = n.endsWith(`.${CLAIM_HOST}.eml${TMP_SUFFIX}`) || n.endsWith(ownJsonTmp) || (orphanEml && ownUnfinished.has(n.slice(0, -4)));
          const mtime = own ? 0 : await stat(path.join(dir, n)).then((st) => st.mtimeMs, () => Date.now());
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
