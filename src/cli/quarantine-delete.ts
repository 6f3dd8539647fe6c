// `quarantine delete ID` and `quarantine purge [--older-than DURATION]`.
import { parseDuration } from '../config/units.js';
import type { MessageId } from '../quarantine/id.js';
import { purgeRule } from '../quarantine/purge.js';
import type { QuarantineStore } from '../quarantine/store.js';
import { writeOut } from './output/stdout.js';
import { fail, noSuchEntry } from './quarantine-common.js';
import { EXIT_OK, EXIT_USAGE, type ExitCode } from './exit-codes.js';

export async function deleteEntry(store: QuarantineStore, id: MessageId): Promise<ExitCode> {
  if (!(await store.remove(id))) return noSuchEntry(id);
  await writeOut(`deleted ${id}\n`);
  return EXIT_OK;
}

export const entriesWord = (n: number): string => `${n} ${n === 1 ? 'entry' : 'entries'}`;

/** Without a duration: what has passed its expiresAt. With one: what was received longer ago than that. */
export async function purgeEntries(
  store: QuarantineStore,
  olderThan: string | undefined,
  now: Date,
): Promise<ExitCode> {
  let olderThanMs: number | undefined;
  if (olderThan !== undefined) {
    const d = parseDuration(olderThan);
    if (!d.ok) return fail(EXIT_USAGE, `--older-than: ${d.error}`);
    olderThanMs = d.value;
  }
  const { deleted } = await store.purge(purgeRule(now, olderThanMs));
  await writeOut(`purged ${entriesWord(deleted)}\n`);
  return EXIT_OK;
}
