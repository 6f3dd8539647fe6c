// Purging: one loop over the entries, and the rules that pick what goes (SPEC §5: what has passed its
// expiresAt, by the running server and `quarantine purge`; what was received before a cutoff, by
// `quarantine purge --older-than`).
import type { QuarantineEntry } from './entry.js';

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
}

/** Removes, one after another, the listed entries the rule picks. */
export async function purgeMatching(
  entries: readonly PurgeCandidate[],
  rule: PurgeRule,
  remove: (id: string) => Promise<void>,
): Promise<PurgeResult> {
  let deleted = 0;
  for (const e of entries) {
    if (!rule(e)) continue;
    await remove(e.id);
    deleted++;
  }
  return { deleted };
}
