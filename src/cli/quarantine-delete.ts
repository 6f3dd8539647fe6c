// `quarantine delete ID` and `quarantine purge [--older-than DURATION]`.
import { parseDuration } from '../config/units.js';
import { errorCodeOrText } from '../observability/error-text.js';
import type { MessageId } from '../quarantine/id.js';
import { loggedIds, purgeRule, type PurgeResult } from '../quarantine/purge.js';
import { unreadableText, type QuarantineStore } from '../quarantine/store.js';
import { terminalText } from './output/text.js';
import { writeOut } from './output/stdout.js';
import { recordAccess } from './quarantine-access.js';
import type { QuarantineEventLog } from './quarantine-events.js';
import { fail, noSuchEntry } from './quarantine-common.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type ExitCode } from './exit-codes.js';

/** Who deletes, and where the `quarantine` event goes. */
export interface DeleteContext {
  readonly by: string;
  readonly events: QuarantineEventLog;
}

/** The access is recorded before the entry goes (its JSON goes with it; the event stays in the log). */
export async function deleteEntry(store: QuarantineStore, id: MessageId, ctx: DeleteContext): Promise<ExitCode> {
  const event = { action: 'delete' as const, id, by: ctx.by };
  let known: boolean;
  try {
    known = (await store.get(id)) !== null;
  } catch {
    // a planted metadata file: nothing to record in, but still the entry's to delete
    known = false;
  }
  if (known) {
    const recorded = await recordAccess(store, id, 'delete', ctx.by);
    if (typeof recorded === 'number') return recorded;
  }
  if (!(await store.remove(id))) {
    await ctx.events.emit({ ...event, outcome: 'not-found' });
    return noSuchEntry(id);
  }
  await ctx.events.emit({ ...event, outcome: 'ok' });
  await writeOut(`deleted ${id}\n`);
  return EXIT_OK;
}

export const entriesWord = (n: number): string => `${n} ${n === 1 ? 'entry' : 'entries'}`;

/** Without a duration: what has passed its expiresAt. With one: what was received longer ago than that. */
export async function purgeEntries(
  store: QuarantineStore,
  olderThan: string | undefined,
  now: Date,
  ctx: DeleteContext,
): Promise<ExitCode> {
  let olderThanMs: number | undefined;
  if (olderThan !== undefined) {
    const d = parseDuration(olderThan);
    if (!d.ok) return fail(EXIT_USAGE, `--older-than: ${d.error}`);
    olderThanMs = d.value;
  }
  let result: PurgeResult;
  try {
    result = await store.purge(purgeRule(now, olderThanMs));
  } catch (err) {
    await ctx.events.emit({ action: 'purge', by: ctx.by, outcome: 'failed', reason: errorCodeOrText(err) });
    throw err;
  }
  const { deleted, ids, unreadable } = result;
  await ctx.events.emit({
    action: 'purge',
    by: ctx.by,
    outcome: 'ok',
    deleted,
    ...loggedIds(ids),
    ...(unreadable.length > 0 ? { unreadable: unreadable.map((u) => u.file) } : {}),
  });
  await writeOut(`purged ${entriesWord(deleted)}\n`);
  // entries nobody could judge stay: said, and exit 1, so a cron job's mail shows it
  if (unreadable.length > 0) return fail(EXIT_FAILURE, terminalText(unreadableText(unreadable)));
  return EXIT_OK;
}
