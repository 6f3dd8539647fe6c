// How many bytes the quarantine holds, for quarantine.maxSize. Counted from the directory at start and
// again at most every `refreshMs` (entries leave through retention, `quarantine delete` or another
// instance on the same volume, none of which tell this process), plus what this process added since.
import path from 'node:path';
import { nodeDurableFs, type DurableFs } from '../storage/durable-fs.js';

export interface QuarantineUsage {
  /** The last count plus what was added since; starts a recount in the background when stale. */
  bytes(): number;
  /** A committed entry's bytes, counted at once so a flood cannot outrun the next recount. */
  add(bytes: number): void;
  /** Counts the directory now. */
  refresh(): Promise<number>;
}

export const USAGE_REFRESH_MS = 60_000;

async function countDir(fs: DurableFs, dir: string): Promise<number> {
  let total = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    // lstat: a planted symlink points at someone else's bytes, not ours
    const st = await fs.lstat(path.join(dir, name)).catch(() => null);
    if (st?.isFile()) total += st.size;
  }
  return total;
}

export function createQuarantineUsage(
  dir: string,
  opts: { readonly refreshMs?: number; readonly now?: () => number; readonly fs?: DurableFs | undefined } = {},
): QuarantineUsage {
  const refreshMs = opts.refreshMs ?? USAGE_REFRESH_MS;
  const now = opts.now ?? Date.now;
  let counted = 0;
  let addedSince = 0;
  let countedAt = Number.NEGATIVE_INFINITY;
  let running: Promise<number> | null = null;

  function refresh(): Promise<number> {
    running ??= (async () => {
      const startedAt = now();
      const addedBefore = addedSince;
      try {
        counted = await countDir(opts.fs ?? nodeDurableFs, dir);
        // what was added while counting may or may not be in the count: keeping it errs on the full side
        addedSince -= addedBefore;
        countedAt = startedAt;
      } finally {
        running = null;
      }
      return counted + addedSince;
    })();
    return running;
  }

  return {
    bytes() {
      if (now() - countedAt >= refreshMs) void refresh().catch(() => undefined);
      return counted + addedSince;
    },
    add(bytes) {
      addedSince += bytes;
    },
    refresh,
  };
}
