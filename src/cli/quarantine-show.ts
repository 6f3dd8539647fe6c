// `quarantine show ID [--raw | --json]`: the metadata for a reader, or the stored message byte for byte.
import type { Readable } from 'node:stream';
import { readMessageFacts } from '../message/headers.js';
import { errorCodeOrText } from '../observability/error-text.js';
import type { QuarantineEntry } from '../quarantine/entry.js';
import type { MessageId } from '../quarantine/id.js';
import { UnsafeEntryFileError, WrongIdentityError, type QuarantineStore } from '../quarantine/store.js';
import { identityNeeded, recordAccess, wrongIdentity } from './quarantine-access.js';
import { pipeOut, writeOut } from './output/stdout.js';
import { terminalText, writeJson } from './output/text.js';
import { fail, noSuchEntry, unsafeEntry } from './quarantine-common.js';
import type { QuarantineEventLog } from './quarantine-events.js';
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

/** Every read of the entry, oldest first, this one included: `2026-12-01T10:00:00.000Z show by alice; …`. */
export function accessText(access: QuarantineEntry['access']): string {
  return access.length === 0 ? 'never opened' : access.map((a) => `${a.at} ${a.action} by ${a.by}`).join('; ');
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
    ['sealed', e.sealed ? 'yes (age, quarantine.sealTo)' : 'no'],
    ['access', accessText(e.access)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${terminalText(v)}`).join('\n');
}

/** What `show` needs besides the entry: who is reading, and the key of a sealed entry. */
export interface ShowContext {
  readonly by: string;
  /** Where the `quarantine` event of the read goes (SPEC §7 lists `show`): it outlives the entry. */
  readonly events: QuarantineEventLog;
  /** --identity: the age identities; absent, a sealed entry is refused with exit 2. */
  readonly identities?: readonly string[] | undefined;
}

type RecordRead = () => Promise<QuarantineEntry | ExitCode>;

/**
 * `show`: the access record is appended before anything is printed (SPEC §5); once it is, the read is
 * also a `quarantine` event (SPEC §7 lists `show`), `failed` when the message could not be printed after all.
 */
export async function showEntry(
  store: QuarantineStore,
  id: MessageId,
  mode: 'pretty' | 'raw' | 'json',
  ctx: ShowContext,
): Promise<ExitCode> {
  let recorded = false;
  const record: RecordRead = async () => {
    const r = await recordAccess(store, id, mode === 'raw' ? 'show-raw' : 'show', ctx.by);
    recorded = typeof r !== 'number';
    return r;
  };
  const code = await showWith(store, id, mode, ctx, record);
  if (recorded)
    await ctx.events.emit({
      action: 'show',
      id,
      by: ctx.by,
      outcome: code === EXIT_OK ? 'ok' : 'failed',
      ...(mode === 'raw' ? { raw: true } : {}),
    });
  return code;
}

/**
 * Records the access (SPEC §5) before printing anything; for a sealed entry only once the identity has
 * opened its age header, so a wrong key changes nothing.
 */
async function showWith(
  store: QuarantineStore,
  id: MessageId,
  mode: 'pretty' | 'raw' | 'json',
  ctx: ShowContext,
  record: RecordRead,
): Promise<ExitCode> {
  let entry: QuarantineEntry | null;
  try {
    entry = await store.get(id);
  } catch (err) {
    if (err instanceof UnsafeEntryFileError) return unsafeEntry(id, err, 'nothing printed');
    throw err;
  }
  if (!entry) return noSuchEntry(id);
  if (entry.sealed) return showSealed(store, id, mode, ctx, record);
  const recorded = await record();
  if (typeof recorded === 'number') return recorded;
  if (mode === 'json') await writeJson(recorded);
  else if (mode === 'pretty') await writeOut(`${formatEntry(recorded)}\n`);
  else {
    const message = store.openMessage(id);
    if (!message) return noSuchEntry(id);
    return printMessage(id, message);
  }
  return EXIT_OK;
}

async function printMessage(id: MessageId, message: Readable): Promise<ExitCode> {
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
  return EXIT_OK;
}

async function showSealed(
  store: QuarantineStore,
  id: MessageId,
  mode: 'pretty' | 'raw' | 'json',
  ctx: ShowContext,
  record: RecordRead,
): Promise<ExitCode> {
  if (!ctx.identities) return identityNeeded(id, mode === 'raw' ? 'show --raw' : 'show');
  let message: Readable | null = null;
  let headers: Buffer | null = null;
  try {
    // both resolve only once the age header has opened: nothing is printed or recorded before that
    if (mode === 'raw') message = await store.openSealedMessage(id, ctx.identities);
    else headers = await store.readSealedHeaders(id, ctx.identities);
  } catch (err) {
    if (err instanceof WrongIdentityError) return wrongIdentity(id);
    if (err instanceof UnsafeEntryFileError) return unsafeEntry(id, err, 'nothing printed');
    return fail(EXIT_FAILURE, `cannot open the sealed message of ${id}: ${errorCodeOrText(err)}`);
  }
  if (!message && !headers) return fail(EXIT_FAILURE, `entry ${id} has no readable message file (${id}.eml.age)`);
  const recorded = await record();
  if (typeof recorded === 'number') {
    message?.destroy();
    return recorded;
  }
  if (message) return printMessage(id, message);
  // the Subject and Message-ID a sealed entry's JSON leaves out, read from the decrypted header block
  const facts = headers ? await readMessageFacts(headers) : null;
  const shown = { ...recorded, subject: facts?.subject ?? null, messageId: facts?.messageId ?? null };
  if (mode === 'json') await writeJson(shown);
  else await writeOut(`${formatEntry(shown)}\n`);
  return EXIT_OK;
}
