// `quarantine list [--json]`: entries newest first, as an aligned table or as a JSON array.
import { existsSync } from 'node:fs';
import type { QuarantineEntry } from '../quarantine/entry.js';
import { unreadableText, type QuarantineStore } from '../quarantine/store.js';
import { renderTable, textWidth, type Cell, type Column } from './output/table.js';
import { writeOut } from './output/stdout.js';
import { terminalText, writeJson } from './output/text.js';
import { EXIT_FAILURE, EXIT_OK, type ExitCode } from './exit-codes.js';
import { fail } from './quarantine-common.js';
import { isSubjectMarker, revealSubjects, SEALED_SUBJECT } from './quarantine-list-sealed.js';

const COLUMNS: readonly Column[] = [
  { header: 'ID' },
  { header: 'RECEIVED (UTC)' },
  // addresses are printed whole (an operator copies them into the recipients file), one recipient a
  // line; when the row is too wide, the subject gives way, and past its minimum the table grows wider
  { header: 'SENDER', whole: true },
  { header: 'RECIPIENTS', whole: true },
  { header: 'SUBJECT', shrink: 1, minWidth: 12 },
  { header: 'NOTICE' },
  // whether anyone ever read the entry (its access record, SPEC §5): "no", or how often and by whom last
  { header: 'OPENED' },
];

/** `2026-11-23T10:00:05.123Z` → `2026-11-23 10:00`. */
export function shortDate(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(0, 16).replace('T', ' ');
}

/** The OPENED cell: `no`, or `3× (last: alice)`. */
export function openedText(access: QuarantineEntry['access']): string {
  const last = access.at(-1);
  return last ? `${access.length}× (last: ${last.by})` : 'no';
}

/** `subjects`: what `--identity` decrypted of sealed entries (quarantine-list-sealed.ts). */
export function entryRow(e: QuarantineEntry, subjects?: ReadonlyMap<string, string>): Cell[] {
  const subject = subjects?.get(e.id) ?? (e.sealed ? SEALED_SUBJECT : (e.subject ?? ''));
  return [
    e.id,
    shortDate(e.receivedAt),
    e.mailFrom || '<>',
    e.recipients,
    subject,
    e.notice.status,
    openedText(e.access),
  ];
}

const SUBJECT_COLUMN = COLUMNS.findIndex((c) => c.header === 'SUBJECT');

export function formatEntryTable(entries: readonly QuarantineEntry[], subjects?: ReadonlyMap<string, string>): string {
  if (entries.length === 0) return 'the quarantine is empty';
  const rows = entries.map((e) => entryRow(e, subjects));
  // "(sealed to another key)" cut to "(sealed to …" says nothing: the column keeps room for the widest marker
  const markerWidth = Math.max(
    0,
    ...rows.map((r) => r[SUBJECT_COLUMN]).map((c) => (typeof c === 'string' && isSubjectMarker(c) ? textWidth(c) : 0)),
  );
  const columns = COLUMNS.map((c, i) =>
    i === SUBJECT_COLUMN ? { ...c, minWidth: Math.max(c.minWidth ?? 0, markerWidth) } : c,
  );
  return renderTable(columns, rows);
}

/**
 * A quarantine directory that does not exist is named, not reported as "empty": it usually means this
 * call looks at another data directory than the server (dataDir, CATCHALL_GUARD_DATA_DIR).
 */
export function missingDirText(dir: string): string {
  return (
    `no quarantine directory at ${terminalText(dir)}: nothing was quarantined there yet, or the server ` +
    `keeps its data elsewhere (set dataDir in the configuration, or CATCHALL_GUARD_DATA_DIR, to the ` +
    `server's data directory)`
  );
}

/** With `reveal` (--identity), sealed entries' Subjects are decrypted, each read recorded first. */
export async function listEntries(
  store: QuarantineStore,
  json: boolean,
  reveal?: { readonly identities: readonly string[]; readonly by: string },
): Promise<ExitCode> {
  if (!existsSync(store.dir)) {
    if (json) {
      process.stderr.write(`catchall-guard: ${missingDirText(store.dir)}\n`);
      await writeJson([]);
    } else await writeOut(`${missingDirText(store.dir)}\n`);
    return EXIT_OK;
  }
  let { entries, unreadable } = await store.scan();
  const subjects = reveal ? await revealSubjects(store, entries, reveal.identities, reveal.by) : undefined;
  // the access records just written are part of what the listing shows
  if (subjects && subjects.size > 0) ({ entries, unreadable } = await store.scan());
  if (json)
    await writeJson(entries.map((e) => (subjects?.has(e.id) ? { ...e, subject: subjects.get(e.id) ?? null } : e)));
  else await writeOut(`${formatEntryTable(entries, subjects)}\n`);
  // an entry left out of the listing is one retention never deletes either: said, and exit 1
  if (unreadable.length > 0) return fail(EXIT_FAILURE, terminalText(unreadableText(unreadable)));
  return EXIT_OK;
}
