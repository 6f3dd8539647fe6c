// `quarantine list --identity FILE`: the Subjects of sealed entries, decrypted from their header blocks
// (the JSON keeps none, SPEC §5). Reading a Subject is reading the entry, so each one decrypted is
// recorded in its access record (`list`) before the listing is printed. An entry sealed to another
// recipient (a key rotated since) is shown as such, not an error for the whole listing.
import { readMessageFacts } from '../message/headers.js';
import type { QuarantineEntry } from '../quarantine/entry.js';
import { parseMessageId } from '../quarantine/id.js';
import { WrongIdentityError, type QuarantineStore } from '../quarantine/store.js';
import { errorCodeOrText } from '../observability/error-text.js';

/** What the SUBJECT column shows of a sealed entry that was not (or could not be) decrypted. */
export const SEALED_SUBJECT = '(sealed)';
export const OTHER_KEY_SUBJECT = '(sealed to another key)';
const unreadableSubject = (why: string): string => `(unreadable: ${why})`;

/** What stands in the SUBJECT column for a Subject not shown: a statement, printed whole (never cut). */
export function isSubjectMarker(text: string): boolean {
  return text === SEALED_SUBJECT || text === OTHER_KEY_SUBJECT || /^\(unreadable: [^()]*\)$/.test(text);
}

/** Entry id → the Subject to show; entries not in the map show their JSON's subject. */
export async function revealSubjects(
  store: QuarantineStore,
  entries: readonly QuarantineEntry[],
  identities: readonly string[],
  by: string,
): Promise<Map<string, string>> {
  const subjects = new Map<string, string>();
  for (const e of entries) {
    const id = parseMessageId(e.id);
    if (!e.sealed || !id) continue;
    let headers: Buffer | null;
    try {
      headers = await store.readSealedHeaders(id, identities);
    } catch (err) {
      subjects.set(
        e.id,
        err instanceof WrongIdentityError ? OTHER_KEY_SUBJECT : unreadableSubject(errorCodeOrText(err)),
      );
      continue;
    }
    if (!headers) continue;
    await store.appendAccess(id, { at: new Date().toISOString(), action: 'list', by });
    subjects.set(e.id, (await readMessageFacts(headers)).subject ?? '');
  }
  return subjects;
}
