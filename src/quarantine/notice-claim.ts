// The notice claim: an exclusive hold on one entry's notice across all processes sharing the quarantine
// directory, as a lock file created with O_EXCL (`.<id>.claim`, holding "<host> <token>"). At most one
// worker sends a notice at a time; a crashed holder's claim is taken over.
import { randomUUID } from 'node:crypto';
import type { DurableFs } from '../storage/durable-fs.js';
import { THIS_HOST, type EntryPaths } from './entry-paths.js';
import { readEntryFile } from './entry-reader.js';
import type { MessageId } from './id.js';

/** Per process, not per store: a reload builds a new store, the process stays the claim's owner. */
const THIS_TOKEN = randomUUID();

export interface ClaimHolder {
  readonly host: string;
  readonly token: string;
}

export const THIS_PROCESS: ClaimHolder = { host: THIS_HOST, token: THIS_TOKEN };

export const claimOwnerText = (holder: ClaimHolder): string => `${holder.host} ${holder.token}`;

/**
 * Whether an existing claim may be taken over: when it is older than `staleMs` (its holder crashed
 * mid-send, or hangs), or when it is this host's but not this process's: one instance per host (SPEC
 * §11), so that is a dead predecessor's. `owner` is the claim file's text, '' when unreadable.
 */
export function mayTakeOver(
  claim: { readonly ageMs: number; readonly owner: string },
  staleMs: number,
  self: ClaimHolder,
): boolean {
  const [host, token] = claim.owner.split(' ');
  const predecessor = host === self.host && token !== self.token;
  return claim.ageMs >= staleMs || predecessor;
}

// properties, not methods: the store hands them on detached from this object
export interface NoticeClaims {
  /** False when another live worker holds the claim. */
  readonly claim: (id: MessageId, staleMs: number) => Promise<boolean>;
  readonly release: (id: MessageId) => Promise<void>;
}

export function createNoticeClaims(fs: DurableFs, paths: EntryPaths, self: ClaimHolder = THIS_PROCESS): NoticeClaims {
  return {
    async claim(id, staleMs) {
      const file = paths.claim(id);
      // two rounds: a stale claim removed in the first is ours to create in the second, unless another
      // worker got there first
      for (let tries = 0; tries < 2; tries++) {
        try {
          // writeNew creates with O_EXCL (EEXIST: held) and removes what it could not finish writing,
          // so a full disk leaves no ownerless claim to wait out
          await fs.writeNew(file, claimOwnerText(self));
          return true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          const [ageMs, owner] = await Promise.all([
            // a claim gone meanwhile counts as fresh: give way this time rather than race whoever claims next
            fs.lstat(file).then(
              (st) => Date.now() - st.mtimeMs,
              () => 0,
            ),
            // never through a planted link, and never waiting on a planted FIFO
            readEntryFile(fs, file).then(
              (b) => b.toString('utf8'),
              () => '',
            ),
          ]);
          if (!mayTakeOver({ ageMs, owner }, staleMs, self)) return false;
          await fs.unlink(file);
        }
      }
      return false;
    },
    async release(id) {
      await fs.unlink(paths.claim(id));
    },
  };
}
