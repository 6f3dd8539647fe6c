// Group commit for directory syncs. Every new entry (quarantine, Maildir) is renamed into its
// directory and the directory is fsynced before the 250. Under load many sessions rename into the
// same directory at once, and one fsync of the directory makes every rename done before it started
// durable. So a caller that finds a sync of its directory already running waits for the next one,
// which starts as soon as the running one ends and serves every caller that arrived meanwhile:
// at most two syncs per directory are ever in the air, one running and one gathering callers.

export type SyncDir = (dir: string) => Promise<void>;

interface DirState {
  running: Promise<void> | null;
  /** The sync that starts when `running` ends; every caller that arrives meanwhile shares it. */
  next: Promise<void> | null;
}

export function coalescedDirSync(syncOnce: SyncDir): SyncDir {
  const dirs = new Map<string, DirState>();

  function start(dir: string, state: DirState): Promise<void> {
    const p = syncOnce(dir).finally(() => {
      if (state.running === p) state.running = null;
      // this state only: a sync that ends late may belong to one the map has already replaced
      if (!state.running && !state.next && dirs.get(dir) === state) dirs.delete(dir);
    });
    state.running = p;
    return p;
  }

  return (dir) => {
    let state = dirs.get(dir);
    if (!state) {
      state = { running: null, next: null };
      dirs.set(dir, state);
    }
    const running = state.running;
    if (!running) return start(dir, state);
    if (state.next) return state.next;
    const current = state;
    // its renames happened after the running sync began, so that sync may not cover them: the next one will
    const next = running
      .catch(() => undefined)
      .then(() => {
        current.next = null;
        return start(dir, current);
      });
    current.next = next;
    return next;
  };
}
