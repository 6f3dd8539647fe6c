// The notice claim: an exclusive hold on one entry's notice across all processes sharing the quarantine
// directory, as a lock file created with O_EXCL (`.<id>.claim`, holding "<instance id> <token>"). At most
// one worker sends a notice at a time; a crashed holder's claim is taken over: at once when its
// instance's lease says it is gone (app/instance-lease.ts), else when the claim is stale.
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

/** An empty claim older than this has no writer still about to fill it in. */
export const EMPTY_CLAIM_MS = 60_000;

/** What a claim's holder is, by its instance's lease; `unknown` leaves the claim's age to decide. */
export type HolderState = 'live' | 'gone' | 'unknown';

/** Whether the holder of a claim (`<instance id> <token>`) is alive, by its instance's lease. */
export type ClaimHolderCheck = (host: string, token: string) => Promise<HolderState>;

/**
 * Whether an existing claim may be taken over: when it is older than `staleMs` (its holder crashed
 * mid-send, or hangs); when it is this instance's but not this process's: one process per instance id
 * (the lease refuses a second), so that is a dead predecessor's; or when the holder's lease says it is
 * gone, or when it has been empty (or unreadable) for EMPTY_CLAIM_MS. A live holder's claim is never
 * taken before `staleMs`. `owner` is the claim file's text, '' when unreadable.
 */
export function mayTakeOver(
  claim: { readonly ageMs: number; readonly owner: string },
  staleMs: number,
  self: ClaimHolder,
  holder: HolderState = 'unknown',
): boolean {
  const [host, token] = claim.owner.split(' ');
  const predecessor = host === self.host && token !== self.token;
  // the owner is written right after the exclusive create, and claims are not fsynced: one still
  // empty this long after was emptied by a power loss, and names nobody the other rules could ask
  const emptied = claim.owner === '' && claim.ageMs >= EMPTY_CLAIM_MS;
  return claim.ageMs >= staleMs || predecessor || emptied || holder === 'gone';
}

/** The claim's holder as the claim names it; null when the text is not `<instance id> <token>`. */
export function claimOwner(owner: string): { readonly host: string; readonly token: string } | null {
  const m = /^(\S+) (\S+)$/.exec(owner);
  return m ? { host: m[1] ?? '', token: m[2] ?? '' } : null;
}

// properties, not methods: the store hands them on detached from this object
export interface NoticeClaims {
  /** False when another live worker holds the claim. */
  readonly claim: (id: MessageId, staleMs: number) => Promise<boolean>;
  readonly release: (id: MessageId) => Promise<void>;
}

export function createNoticeClaims(
  fs: DurableFs,
  paths: EntryPaths,
  self: ClaimHolder = THIS_PROCESS,
  holderOf?: ClaimHolderCheck,
): NoticeClaims {
  return {
    async claim(id, staleMs) {
      const file = paths.claim(id);
      // two rounds: a stale claim removed in the first is ours to create in the second, unless another
      // worker got there first
      for (let tries = 0; tries < 2; tries++) {
        try {
          // writeMarker creates with O_EXCL (EEXIST: held) and removes what it could not finish writing,
          // so a full disk leaves no ownerless claim to wait out; not fsynced: a claim only matters
          // while its holder runs, and one a power loss emptied is taken over when it goes stale
          await fs.writeMarker(file, claimOwnerText(self));
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
          const named = claimOwner(owner);
          // asked only when neither the age nor the predecessor rule decides: one small file read
          const holder =
            holderOf && named && !mayTakeOver({ ageMs, owner }, staleMs, self)
              ? await holderOf(named.host, named.token).catch((): HolderState => 'unknown')
              : 'unknown';
          if (!mayTakeOver({ ageMs, owner }, staleMs, self, holder)) return false;
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
