// Local delivery: <path>/<domain>/<mailbox>/{tmp,new,cur}, tmp → fsync → rename into new/.
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { nodeDurableFs, placeMessage, type DurableFs } from '../storage/durable-fs.js';
import type { Delivery, DeliveryOutcome, DeliveryRequest } from './delivery.js';
import { groupByDestination, originalToHeaders } from './original-to.js';
import { placePrefixedMessage } from './prefixed-copy.js';
import { storageReason } from './reason.js';
import { mkdirsOwnedLikeParent, takeOwnerOf } from '../storage/file-owner.js';

/** A mailbox name as a directory name: no separators, no dot files, nothing outside the tree. */
export function mailboxDirName(localPart: string): string {
  const safe = localPart
    .toLowerCase()
    .replace(/[^a-z0-9._+=-]|^\./g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return safe || '%00';
}

let counter = 0;
const host = osHostname().replace(/\//g, '\\057').replace(/:/g, '\\072');

/** The unique name of Maildir's convention: time.MusecPpidQcounterRrandom.host,S=size */
export function maildirFileName(now: Date, size: number): string {
  const sec = Math.floor(now.getTime() / 1000);
  const usec = (now.getTime() % 1000) * 1000;
  counter = (counter + 1) % 1_000_000;
  return `${sec}.M${usec}P${process.pid}Q${counter}R${randomBytes(4).toString('hex')}.${host},S=${size}`;
}

export function createMaildirDelivery(root: string, fs: DurableFs = nodeDurableFs): Delivery {
  // bounded: every address a glob such as `shop-*` accepts is a mailbox of its own
  const prepared = new LRUCache<string, true>({ max: 10_000 });
  async function ensureMaildir(dir: string): Promise<void> {
    if (prepared.has(dir)) return;
    // a `quarantine release` run as root may be the first delivery to this mailbox (or to the Maildir):
    // what it creates belongs to whoever owns the directory above it (file-owner.ts), never to root
    await mkdirsOwnedLikeParent(dir, ['tmp', 'new', 'cur'], (d) => fs.mkdirp(d));
    prepared.set(dir, true);
  }
  return {
    async deliver(req: DeliveryRequest): Promise<DeliveryOutcome> {
      const groups = groupByDestination(req.recipients, (r) => r.mailbox);
      const placed: string[] = [];
      try {
        const newDirs = new Set<string>();
        for (const [mailbox, group] of groups) {
          const at = mailbox.lastIndexOf('@');
          const dir = path.join(root, mailboxDirName(mailbox.slice(at + 1)), mailboxDirName(mailbox.slice(0, at)));
          await ensureMaildir(dir);
          // one copy per mailbox; a copy that observe mode routed here says for whom (X-Original-To)
          const prefix = originalToHeaders(group);
          const name = maildirFileName(new Date(), req.message.size + Buffer.byteLength(prefix));
          const tmp = path.join(dir, 'tmp', name);
          if (prefix === '') await placeMessage(fs, req.message, tmp);
          else await placePrefixedMessage(fs, req.message, prefix, tmp);
          const dest = path.join(dir, 'new', name);
          try {
            await takeOwnerOf(tmp, dir);
            await fs.rename(tmp, dest);
          } catch (err) {
            await fs.unlink(tmp).catch(() => undefined);
            throw err;
          }
          placed.push(dest);
          newDirs.add(path.join(dir, 'new'));
        }
        for (const d of newDirs) await fs.fsyncDir(d);
        return { kind: 'delivered', detail: `${placed.length} mailbox(es)` };
      } catch (err) {
        // all or nothing: the sender will retry, so no mailbox may keep a copy from this attempt
        for (const p of placed) await fs.unlink(p).catch(() => undefined);
        prepared.clear();
        return {
          kind: 'temporary',
          source: 'storage',
          reason: storageReason(err),
          detail: (err as NodeJS.ErrnoException).code ?? String(err),
        };
      }
    },
    async cleanTemp() {
      // only our own names (…P<pid>…<host>,S=…) from another process: files of other delivery agents,
      // and of this process, are never touched; Maildir readers remove other stale tmp/ files after 36 h
      const ours = new RegExp(
        `^\\d+\\.M\\d+P(\\d+)Q\\d+R[0-9a-f]+\\.${host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')},S=\\d+$`,
      );
      let removed = 0;
      const list = (dir: string): Promise<string[]> => readdir(dir).catch(() => []);
      for (const domain of await list(root)) {
        for (const mailbox of await list(path.join(root, domain))) {
          const tmp = path.join(root, domain, mailbox, 'tmp');
          for (const name of await list(tmp)) {
            const m = ours.exec(name);
            if (!m || Number(m[1]) === process.pid) continue;
            await fs.unlink(path.join(tmp, name)).catch(() => undefined);
            removed++;
          }
        }
      }
      return removed;
    },
    async close() {},
  };
}
