// At start, beside crash-cleanup.ts: what a crash leaves of a sealed entry. A sealed commit renames
// `<id>.eml.age`, then `<id>.notice.json`, then `<id>.json` into place, so a crash between them leaves
// those files without the `.json` that makes them an entry. Temp files are crash-cleanup's.
import type { DurableFs } from '../storage/durable-fs.js';
import { TEMP_GRACE_MS } from './crash-cleanup.js';
import type { EntryPaths } from './entry-paths.js';

const SEALED_SUFFIXES = ['.eml.age', '.notice.json'] as const;

/** The sealed files among a directory's names whose entry has no `.json`: [name, id]. Pure. */
export function sealedOrphans(names: readonly string[]): Array<readonly [string, string]> {
  const jsons = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)));
  const orphans: Array<readonly [string, string]> = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const suffix = SEALED_SUFFIXES.find((s) => name.endsWith(s));
    if (!suffix) continue;
    const id = name.slice(0, -suffix.length);
    if (!jsons.has(id)) orphans.push([name, id]);
  }
  return orphans;
}

/**
 * Removes sealed orphans old enough to belong to no commit in progress (another instance on the same
 * volume may be between its renames right now); resolves with how many it removed.
 */
export async function cleanSealedOrphans(fs: DurableFs, paths: EntryPaths, now = Date.now()): Promise<number> {
  const names = await fs.readdir(paths.dir).catch(() => [] as string[]);
  let removed = 0;
  for (const [name] of sealedOrphans(names)) {
    const file = paths.named(name);
    const mtime = await fs.lstat(file).then(
      (st) => st.mtimeMs,
      () => now,
    );
    if (mtime > now - TEMP_GRACE_MS) continue;
    await fs.unlink(file).catch(() => undefined);
    removed++;
  }
  return removed;
}
