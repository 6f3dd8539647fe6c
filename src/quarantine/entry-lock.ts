// One read-modify-write of an entry's metadata at a time, across processes: the server's notice
// outbox and an operator's `quarantine show` both rewrite the JSON, and without this an access record
// appended by the one could be overwritten by the other's older copy. A lock file created with O_EXCL,
// held for milliseconds; one left by a crashed holder is taken over once it is older than STALE_MS.
import path from 'node:path';
import type { DurableFs } from '../storage/durable-fs.js';
import { takeOwnerOf } from '../storage/file-owner.js';

/** A rewrite takes milliseconds: a lock this old belongs to a process that died holding it. */
export const LOCK_STALE_MS = 10_000;
const RETRY_MS = 5;
const GIVE_UP_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function withEntryLock<T>(fs: DurableFs, lockFile: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      await fs.writeMarker(lockFile, String(process.pid));
      // a lock left by a command run as root stays the server's to take over (file-owner.ts)
      await takeOwnerOf(lockFile, path.dirname(lockFile)).catch(() => undefined);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await fs.lstat(lockFile).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      if (age >= LOCK_STALE_MS) await fs.unlink(lockFile).catch(() => undefined);
      else if (Date.now() - started > GIVE_UP_MS)
        throw Object.assign(new Error(`entry is locked by another process (${lockFile})`), { code: 'EBUSY' });
      else await sleep(RETRY_MS);
    }
  }
  try {
    return await work();
  } finally {
    await fs.unlink(lockFile).catch(() => undefined);
  }
}
