// At start: the files a crash left in the quarantine directory. A commit renames `.eml` then `.json`
// into place, so a crash leaves temp files, or an `.eml` without its `.json`. Instances may share the
// data volume (SPEC §11): this instance's leftovers go at once, another's only when too old to belong
// to a commit in progress.
import type { DurableFs } from '../storage/durable-fs.js';
import { TMP_SUFFIX, type EntryPaths } from './entry-paths.js';

/** A commit takes milliseconds; a temp file older than this belongs to no live transaction. */
export const TEMP_GRACE_MS = 10 * 60_000;

export interface Leftover {
  readonly name: string;
  /** Left by this instance: no commit of ours is in progress at start, so it goes regardless of age. */
  readonly own: boolean;
}

/**
 * `.<id>.<instance>.<kind>.tmp` (entry-paths.ts) → its entry id and instance. Entry ids hold no dot,
 * so the instance is exactly what lies between: an instance `a.mx1` is not taken for `mx1`.
 */
export function parseTempName(name: string): { readonly id: string; readonly host: string } | null {
  const m = /^\.([A-Za-z0-9_-]+)\.(.+)\.[a-z]+\.tmp$/.exec(name);
  return m ? { id: m[1] ?? '', host: m[2] ?? '' } : null;
}

/** The leftovers among a directory's names: temp files, and `.eml` files without their `.json`. */
export function crashLeftovers(names: readonly string[], host: string): Leftover[] {
  const jsons = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)));
  const ownTemp = (name: string): boolean => parseTempName(name)?.host === host;
  // a crash between the two renames of a commit of ours leaves `<id>.eml` beside our `.<id>.<host>.json.tmp`
  const ownUnfinished = new Set(
    names.filter((n) => n.endsWith(`.json${TMP_SUFFIX}`) && ownTemp(n)).map((n) => parseTempName(n)?.id ?? ''),
  );
  const leftovers: Leftover[] = [];
  for (const name of names) {
    const orphanEml = name.endsWith('.eml') && !jsons.has(name.slice(0, -'.eml'.length));
    if (!((name.startsWith('.') && name.endsWith(TMP_SUFFIX)) || orphanEml)) continue;
    const own = orphanEml ? ownUnfinished.has(name.slice(0, -'.eml'.length)) : ownTemp(name);
    leftovers.push({ name, own });
  }
  return leftovers;
}

/** Removes the leftovers; resolves with how many it removed. */
export async function cleanCrashLeftovers(fs: DurableFs, paths: EntryPaths, host: string): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(paths.dir);
  } catch {
    return 0;
  }
  let removed = 0;
  const cutoff = Date.now() - TEMP_GRACE_MS;
  for (const { name, own } of crashLeftovers(names, host)) {
    const file = paths.named(name);
    // lstat: a planted link is judged by its own age, not its target's; one gone meanwhile stays uncounted
    const mtime = own
      ? 0
      : await fs.lstat(file).then(
          (st) => st.mtimeMs,
          () => Date.now(),
        );
    if (mtime > cutoff) continue;
    await fs.unlink(file).catch(() => undefined);
    removed++;
  }
  return removed;
}
