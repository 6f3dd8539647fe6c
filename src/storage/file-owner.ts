// The quarantine and the Maildir belong to the server's user. An operator running a `quarantine`
// command as root rewrites entry files (the access record), creates lock files, and with `release`
// delivers into the Maildir, creating a mailbox's directories when it is the first message for it. A
// file root creates is root's, 0600: a server running as another user could then neither read the
// entry (`list` would not show it, retention would never delete it) nor take the lock, and neither
// the server nor the mailbox server reading the Maildir could use the released message or write the
// next one to that mailbox. So whatever root writes there takes the owner and group of what it
// replaces, or of the directory it belongs to, before it is renamed into place. Any other user
// cannot give files away and has no need to: what it writes is its own.
import { chown, lstat } from 'node:fs/promises';
import path from 'node:path';

export const runsAsRoot = (): boolean => process.getuid?.() === 0;

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

/**
 * As root: makes the directories `dir` and `subdirs` (mkdir -p), and gives every one of them this call
 * created the owner and group of the nearest directory above that already existed (a new mailbox in a
 * Maildir the service user owns is the service user's). As another user: just makes them.
 */
export async function mkdirsOwnedLikeParent(
  dir: string,
  subdirs: readonly string[],
  mkdirp: (d: string) => Promise<void>,
): Promise<void> {
  let existing: string | null = null;
  const created: string[] = [];
  if (runsAsRoot()) {
    for (let d = dir; ; d = path.dirname(d)) {
      if (
        await lstat(d).then(
          () => true,
          () => false,
        )
      ) {
        existing = d;
        break;
      }
      created.push(d);
      if (path.dirname(d) === d) break;
    }
  }
  await Promise.all(subdirs.map((sub) => mkdirp(path.join(dir, sub))));
  if (existing === null) return;
  for (const d of [...created.reverse(), ...subdirs.map((sub) => path.join(dir, sub))]) await takeOwnerOf(d, existing);
}
