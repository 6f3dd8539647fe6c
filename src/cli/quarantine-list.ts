// `quarantine list [--json]`: entries newest first, as an aligned table or as a JSON array.
import type { QuarantineEntry } from '../quarantine/entry.js';
import type { QuarantineStore } from '../quarantine/store.js';
import { renderTable, type Column } from './output/table.js';
import { writeOut } from './output/stdout.js';
import { writeJson } from './output/text.js';
import { EXIT_OK, type ExitCode } from './exit-codes.js';

const COLUMNS: readonly Column[] = [
  { header: 'ID' },
  { header: 'RECEIVED (UTC)' },
  // when the row is too wide, the subject gives way first, then the recipients, then the sender
  { header: 'SENDER', shrink: 1, minWidth: 12 },
  { header: 'RECIPIENTS', shrink: 2, minWidth: 12 },
  { header: 'SUBJECT', shrink: 3, minWidth: 12 },
  { header: 'NOTICE' },
];

/** `2026-11-23T10:00:05.123Z` → `2026-11-23 10:00`. */
export function shortDate(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(0, 16).replace('T', ' ');
}

export function entryRow(e: QuarantineEntry): string[] {
  return [e.id, shortDate(e.receivedAt), e.mailFrom || '<>', e.recipients.join(', '), e.subject ?? '', e.notice.status];
}

export function formatEntryTable(entries: readonly QuarantineEntry[]): string {
  return entries.length === 0 ? 'the quarantine is empty' : renderTable(COLUMNS, entries.map(entryRow));
}

export async function listEntries(store: QuarantineStore, json: boolean): Promise<ExitCode> {
  const entries = await store.list();
  if (json) await writeJson(entries);
  else await writeOut(`${formatEntryTable(entries)}\n`);
  return EXIT_OK;
}
