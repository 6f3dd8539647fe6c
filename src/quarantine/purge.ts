// Purging: one loop over the entries, and the rules that pick what goes (SPEC §5: what has passed its
// expiresAt, by the running server and `quarantine purge`; what was received before a cutoff, by
// `quarantine purge --older-than`).
import type { QuarantineEntry } from './entry.js';
import type { UnreadableEntry } from './entry-reader.js';

/** What a purge judges an entry by. */
export type PurgeCandidate = Pick<QuarantineEntry, 'id' | 'receivedAt' | 'expiresAt'>;

/** True for an entry that is to go. */
export type PurgeRule = (entry: Omit<PurgeCandidate, 'id'>) => boolean;

/** Entries whose expiresAt is `now` or earlier. An unreadable date never expires: nothing goes on a guess. */
export const expiredBy =
  (now: Date): PurgeRule =>
  (e) =>
    Date.parse(e.expiresAt) <= now.getTime();

/** Entries received at `cutoff` or earlier, expired or not. */
export const receivedBy =
  (cutoff: Date): PurgeRule =>
  (e) =>
    Date.parse(e.receivedAt) <= cutoff.getTime();

/** `quarantine purge`: without a duration what has expired, with one what was received longer ago than that. */
export function purgeRule(now: Date, olderThanMs?: number): PurgeRule {
  return olderThanMs === undefined ? expiredBy(now) : receivedBy(new Date(now.getTime() - olderThanMs));
}

export interface PurgeResult {
  readonly deleted: number;
  /** The ids deleted, in the order they went: the lasting record of what a purge removed. */
  readonly ids: readonly string[];
  /** Metadata files that could not be read, so nothing could tell whether they were due (entry-reader.ts). */
  readonly unreadable: readonly UnreadableEntry[];
}

/** Removes, one after another, the listed entries the rule picks. */
export async function purgeMatching(
  entries: readonly PurgeCandidate[],
  rule: PurgeRule,
  remove: (id: string) => Promise<void>,
): Promise<Pick<PurgeResult, 'deleted' | 'ids'>> {
  const ids: string[] = [];
  for (const e of entries) {
    if (!rule(e)) continue;
    await remove(e.id);
    ids.push(e.id);
  }
  return { deleted: ids.length, ids };
}

/** How many ids a log event names at most; past it the event counts the rest (`more`). */
export const LOGGED_IDS = 1000;

/** The ids a purge event carries: at most LOGGED_IDS, and how many more went. */
export function loggedIds(ids: readonly string[]): { ids: string[]; more?: number } {
  return ids.length > LOGGED_IDS ? { ids: ids.slice(0, LOGGED_IDS), more: ids.length - LOGGED_IDS } : { ids: [...ids] };
}
