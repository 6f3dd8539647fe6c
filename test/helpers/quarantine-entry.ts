// A quarantine entry as the server writes one, for tests of the store and of what reads it; and
// committing it to a real store with a small message held in memory.
import type { QuarantineEntry } from '../../src/quarantine/entry.js';
import { newMessageId, type MessageId } from '../../src/quarantine/id.js';
import type { QuarantineStore } from '../../src/quarantine/store.js';

export const sampleEntry = (over: Partial<QuarantineEntry> = {}): QuarantineEntry => ({
  id: newMessageId(),
  receivedAt: '2026-12-01T10:00:00.000Z',
  expiresAt: '2026-12-15T10:00:00.000Z',
  remoteAddress: '192.0.2.7',
  helo: 'client.test',
  mailFrom: 'orders@shop.example',
  recipients: ['jane@example.test'],
  deliveredTo: [],
  size: 100,
  bodyStored: true,
  messageId: '<m1@shop.example>',
  subject: 'Your order 4711',
  headerFrom: 'Shop <orders@shop.example>',
  headers: { autoSubmitted: null },
  auth: null,
  kind: 'quarantined',
  access: [],
  notice: { status: 'pending', attempts: 0 },
  ...over,
});

/** Writes `e` with `raw` (a small message, default a Subject and a body) as its message; its id. */
export async function commitEntry(
  store: QuarantineStore,
  e: QuarantineEntry,
  raw: Buffer = Buffer.from('Subject: x\r\n\r\nbody\r\n'),
): Promise<MessageId> {
  const headerEnd = raw.indexOf('\r\n\r\n') + 4;
  const prepared = await store.prepare(
    e,
    { kind: 'memory', data: raw, size: raw.length, headerBlock: raw.subarray(0, headerEnd), headerEnd },
    true,
  );
  await prepared.commit();
  return e.id as MessageId;
}
