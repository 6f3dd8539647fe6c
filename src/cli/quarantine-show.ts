// `quarantine show ID [--raw | --json]`: the metadata for a reader, or the stored message byte for byte.
import type { QuarantineEntry } from '../quarantine/entry.js';
import type { MessageId } from '../quarantine/id.js';
import { UnsafeEntryFileError, type QuarantineStore } from '../quarantine/store.js';
import { pipeOut, writeOut } from './output/stdout.js';
import { terminalText, writeJson } from './output/text.js';
import { fail, noSuchEntry, unsafeEntry } from './quarantine-common.js';
import { EXIT_FAILURE, EXIT_OK, type ExitCode } from './exit-codes.js';

function noticeLine(n: QuarantineEntry['notice']): string {
  const parts: string[] = [n.status];
  if (n.reason) parts.push(`reason: ${n.reason}`);
  parts.push(`attempts: ${n.attempts}`);
  if (n.to) parts.push(`to: ${n.to}`);
  if (n.sentAt) parts.push(`sent: ${n.sentAt}`);
  if (n.nextAttemptAt && (n.status === 'pending' || n.status === 'sending'))
    parts.push(`next attempt: ${n.nextAttemptAt}`);
  if (n.lastError) parts.push(`last error: ${n.lastError}`);
  return parts.join(', ');
}

export function formatEntry(e: QuarantineEntry): string {
  const client = [e.remoteAddress, e.clientHostname ? `(${e.clientHostname})` : '', `helo ${e.helo || '-'}`]
    .filter(Boolean)
    .join(' ');
  const rows: Array<[string, string]> = [
    ['id', e.id],
    ['received', e.receivedAt],
    ['expires', e.expiresAt],
    ['client', client],
    ['envelope from', e.mailFrom || '<>'],
    ['recipients', e.recipients.join(', ')],
    ['delivered to', e.deliveredTo.length ? e.deliveredTo.join(', ') : '-'],
    ['size', `${e.size} bytes`],
    ['body stored', e.bodyStored ? 'yes' : 'no (headers only)'],
    ['message-id', e.messageId ?? '-'],
    ['from', e.headerFrom ?? '-'],
    ['subject', e.subject ?? '-'],
    [
      'auth',
      e.auth
        ? Object.entries(e.auth)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ')
        : '-',
    ],
    ['notice', noticeLine(e.notice)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${terminalText(v)}`).join('\n');
}

export async function showEntry(
  store: QuarantineStore,
  id: MessageId,
  mode: 'pretty' | 'raw' | 'json',
): Promise<ExitCode> {
  let entry: QuarantineEntry | null;
  try {
    entry = await store.get(id);
  } catch (err) {
    if (err instanceof UnsafeEntryFileError) return unsafeEntry(id, err, 'nothing printed');
    throw err;
  }
  if (!entry) return noSuchEntry(id);
  if (mode === 'json') await writeJson(entry);
  else if (mode === 'pretty') await writeOut(`${formatEntry(entry)}\n`);
  else {
    const message = store.openMessage(id);
    if (!message) return noSuchEntry(id);
    try {
      await pipeOut(message);
    } catch (err) {
      // the store refuses a planted file before its first byte, so nothing of it reached stdout
      if (err instanceof UnsafeEntryFileError) return unsafeEntry(id, err, 'nothing printed');
      return fail(
        EXIT_FAILURE,
        `cannot read the message of ${id}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  return EXIT_OK;
}
