// How many bytes the quarantine holds, for quarantine.maxSize, counted once for every process writing
// it (SPEC §4: the workers of a host, and with Redis every instance on the shared volume).
//
// Each process counts the directory at start and again at most every `refreshMs` (entries leave through
// retention, `quarantine delete` or another instance, none of which tell it). What is written between
// two counts is added at once, so a flood cannot outrun the next count:
// - what this process wrote since its own count started, exactly, in its memory;
// - what the others wrote, from the state store: each process keeps there, as its share, the bytes it
//   committed in the last `windowMs` (1.5 × refreshMs). The share is not cut when its writer counts
//   again: another process's count may be older and not hold those entries yet. So an entry is in
//   every view from its commit on: in its writer's share for `windowMs`, and in every count started
//   after it; no count older than `windowMs` is used (bytes() waits for a new one).
// The price: an entry another process wrote is counted twice, in a count and in its share, for about
// `windowMs` after it was written (up to twice that when its writer falls quiet right after a newer
// entry): the quarantine is judged fuller than it is for that long, never emptier. Shares are
// dropped by their writer's clock: hosts sharing Redis are assumed to keep time (NTP).
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createMemoryStore } from '../state/memory.js';
import { stateKeys, type StateStore } from '../state/store.js';
import { nodeDurableFs, type DurableFs } from '../storage/durable-fs.js';

export interface QuarantineUsage {
  /**
   * The bytes held: the last count, what this process wrote since, and what the others wrote lately.
   * One state-store call (it also renews this process's share). Starts a recount in the background
   * when the count is stale, and waits for it when the count is too old for the shares to cover.
   */
  bytes(): Promise<number>;
  /** A committed entry's bytes, counted at once (and told to the other processes). */
  add(bytes: number): void;
  /** Counts the directory now; resolves to the count plus what this process wrote since it started. */
  refresh(): Promise<number>;
}

export const USAGE_REFRESH_MS = 60_000;

/** How long a share keeps an entry, given the recount interval: a recount and some slack for a slow one. */
export const shareWindowMs = (refreshMs: number): number => Math.round(refreshMs * 1.5);

export interface QuarantineUsageOptions {
  readonly refreshMs?: number;
  readonly now?: () => number;
  readonly fs?: DurableFs | undefined;
  /** Where the processes writing this quarantine keep their shares; this process's memory by default. */
  readonly state?: StateStore | undefined;
  /** This process among all sharing the store (unique per process). */
  readonly holder?: string;
}

async function countDir(fs: DurableFs, dir: string): Promise<number> {
  let total = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    // lstat: a planted symlink points at someone else's bytes, not ours
    const st = await fs.lstat(path.join(dir, name)).catch(() => null);
    if (st?.isFile()) total += st.size;
  }
  return total;
}

/** Bytes committed per second, for the last `windowMs`: bounded by the window, however many entries. */
export interface RecentBytes {
  add(bytes: number, atMs: number): void;
  /** The bytes of the seconds not wholly older than the window ending at `nowMs`. */
  total(nowMs: number): number;
  /** How long from `nowMs` until the newest of them leaves the window (0 when none is left). */
  ttl(nowMs: number): number;
}

const SLOT_MS = 1_000;

export function createRecentBytes(windowMs: number): RecentBytes {
  const slots = new Map<number, number>();
  return {
    add(bytes, atMs) {
      const slot = Math.floor(atMs / SLOT_MS);
      slots.set(slot, (slots.get(slot) ?? 0) + bytes);
    },
    total(nowMs) {
      let sum = 0;
      for (const [slot, bytes] of slots) {
        // a slot is kept until its last millisecond is out of the window: never dropped early
        if ((slot + 1) * SLOT_MS <= nowMs - windowMs) slots.delete(slot);
        else sum += bytes;
      }
      return sum;
    },
    ttl(nowMs) {
      let newest = Number.NEGATIVE_INFINITY;
      for (const slot of slots.keys()) newest = Math.max(newest, slot);
      return Math.max(0, (newest + 1) * SLOT_MS + windowMs - nowMs);
    },
  };
}

export function createQuarantineUsage(dir: string, opts: QuarantineUsageOptions = {}): QuarantineUsage {
  const refreshMs = opts.refreshMs ?? USAGE_REFRESH_MS;
  const windowMs = shareWindowMs(refreshMs);
  const now = opts.now ?? Date.now;
  const store = opts.state ?? createMemoryStore({ now });
  // one share per usage, not per holder name: a replacement worker keeps its predecessor's name, and
  // its share must not overwrite the dead one's, whose entries older counts elsewhere do not hold yet
  const holder = `${opts.holder ?? 'local'}#${randomUUID()}`;
  // the directory, not a name in it: two configurations with different quarantines do not mix
  const key = stateKeys.quarantineAdded(path.resolve(dir));
  const recent = createRecentBytes(windowMs);
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

  /**
   * Writes this process's share: the bytes of its last `windowMs`, kept by the store until the newest
   * of them leaves the window (a process that falls quiet leaves nothing behind for longer). Resolves
   * to the sum of every live share.
   */
  function publish(): Promise<{ mine: number; all: number }> {
    const t = now();
    const mine = recent.total(t);
    const ttl = recent.ttl(t);
    return store.setShare(key, holder, ttl > 0 ? mine : 0, Math.max(1, ttl)).then((all) => ({ mine, all }));
  }

  /** Writes this process's share and returns the others'. */
  async function others(): Promise<number> {
    try {
      const { mine, all } = await publish();
      return Math.max(0, all - mine);
    } catch {
      // the store's implementations answer locally rather than fail; this is the last resort
      return 0;
    }
  }

  return {
    async bytes() {
      const age = now() - countedAt;
      // shares older than the window are gone: a count that old may miss what they held
      if (age >= windowMs) await refresh().catch(() => undefined);
      else if (age >= refreshMs) void refresh().catch(() => undefined);
      const fromOthers = await others();
      return counted + addedSince + fromOthers;
    },
    add(bytes) {
      addedSince += bytes;
      recent.add(bytes, now());
      void publish().catch(() => undefined);
    },
    refresh,
  };
}
