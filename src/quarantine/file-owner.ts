// The quarantine directory belongs to the server's user. An operator running a `quarantine` command
// as root rewrites entry files (the access record) and creates lock files there; a file root creates
// is root's, 0600, and a server running as another user could then neither read the entry (`list`
// would not show it, retention would never delete it) nor take the lock. So whatever root writes
// here takes the owner and group of what it replaces, or of the directory, before it is renamed into
// place. Any other user cannot give files away and has no need to: what it writes is its own.
import { chown, lstat } from 'node:fs/promises';

const runsAsRoot = (): boolean => process.getuid?.() === 0;

/**
 * As root: `file` (just created by this process) gets the owner and group of `like`. Nothing to do for
 * another user, or when `like` is gone; a failing chown fails the caller, which then leaves the entry as
 * it was: a file the server cannot read is worse than a refused command.
 */
export async function takeOwnerOf(file: string, like: string): Promise<void> {
  if (!runsAsRoot()) return;
  let st;
  try {
    st = await lstat(like);
  } catch {
    return;
  }
  if (st.uid === 0 && st.gid === 0) return;
  await chown(file, st.uid, st.gid);
}
